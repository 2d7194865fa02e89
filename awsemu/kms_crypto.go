package awsemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"hash"
	"regexp"
	"strings"
)

// Symmetric ciphertext blob layout (the emulator's own, like KMS's opaque):
//
//	0x01 | account (12 bytes) | len(key id) | key id | version (uint32) | nonce (12) | AES-256-GCM(plaintext)
//
// The additional data is the header plus the canonical encryption context, so
// a blob decrypts only with its key, its version's material and its context.
const blobVersion = 0x01

type cryptoInput struct {
	KeyId                          string
	Plaintext                      []byte
	CiphertextBlob                 []byte
	EncryptionContext              map[string]string
	EncryptionAlgorithm            string
	GrantTokens                    []string
	KeySpec                        string
	NumberOfBytes                  *int32
	SourceKeyId                    string
	DestinationKeyId               string
	SourceEncryptionContext        map[string]string
	DestinationEncryptionContext   map[string]string
	SourceEncryptionAlgorithm      string
	DestinationEncryptionAlgorithm string
	DryRun                         bool
}

func (s *Server) encrypt(c *call) (any, error) {
	in, err := decode[cryptoInput](c)
	if err != nil {
		return nil, err
	}
	if err := lengthErr("plaintext", len(in.Plaintext), 1, 4096); err != nil {
		return nil, err
	}
	k, alg, err := s.cryptoKey(c, in.KeyId, "kms:Encrypt", in.EncryptionContext, in.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	blob, err := s.seal(k, alg, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": k.ARN, "EncryptionAlgorithm": alg}, nil
}

// cryptoKey resolves, authorizes and checks a key for a cryptographic
// operation with the given algorithm ("" is SYMMETRIC_DEFAULT).
func (s *Server) cryptoKey(c *call, ref, action string, ec map[string]string, alg string) (*key, string, error) {
	if err := checkContext(ec); err != nil {
		return nil, "", err
	}
	c.ev.EncryptionContext = ec
	k, err := s.keyFor(c, ref, true, action, encryptionContextKeys(ec))
	if err != nil {
		return nil, "", err
	}
	if err := usable(k); err != nil {
		return nil, "", err
	}
	if alg == "" {
		alg = algSymmetric
	}
	if err := checkAlgorithm(k, alg, ec); err != nil {
		return nil, "", err
	}
	return k, alg, nil
}

func checkAlgorithm(k *key, alg string, ec map[string]string) error {
	switch {
	case alg != algSymmetric && alg != algOAEPSHA1 && alg != algOAEPSHA256:
		return validationErr("1 validation error detected: Value '%s' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set", alg)
	case k.symmetric() != (alg == algSymmetric):
		return keyUsageErr("The key %s does not support the %s encryption algorithm.", k.ARN, alg)
	case !k.symmetric() && len(ec) > 0:
		return validationErr("EncryptionContext is not supported with asymmetric keys")
	}
	return nil
}

func (s *Server) seal(k *key, alg string, pt []byte, ec map[string]string) ([]byte, error) {
	m := s.st.Materials[k.MaterialID]
	if alg != algSymmetric {
		return rsaEncrypt(m, alg, pt)
	}
	v := len(m.Versions) - 1
	hdr := blobHeader(k.Account, k.ID, uint32(v))
	nonce := randomBytes(12)
	out := append(hdr, nonce...)
	return m.Versions[v].gcm().Seal(out, nonce, pt, additionalData(hdr, ec)), nil
}

func rsaEncrypt(m *material, alg string, pt []byte) ([]byte, error) {
	priv := m.private()
	out, err := rsa.EncryptOAEP(oaepHash(alg), rand.Reader, &priv.PublicKey, pt, nil)
	if err != nil {
		return nil, validationErr("Plaintext is too long for %s with this key", alg)
	}
	return out, nil
}

func oaepHash(alg string) hash.Hash {
	if alg == algOAEPSHA1 {
		return sha1.New()
	}
	return sha256.New()
}

func blobHeader(account, id string, version uint32) []byte {
	h := make([]byte, 0, 1+12+1+len(id)+4+12+64)
	h = append(h, blobVersion)
	h = append(h, account...)
	h = append(h, byte(len(id)))
	h = append(h, id...)
	return binary.BigEndian.AppendUint32(h, version)
}

// additionalData binds the header and the encryption context, whose pairs are
// written sorted and length-prefixed so that no two contexts collide.
func additionalData(hdr []byte, ec map[string]string) []byte {
	ad := append([]byte(nil), hdr...)
	for _, k := range sortedKeys(ec) {
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(k)))
		ad = append(ad, k...)
		ad = binary.BigEndian.AppendUint32(ad, uint32(len(ec[k])))
		ad = append(ad, ec[k]...)
	}
	return ad
}

var keyIDRe = regexp.MustCompile(`^(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validKeyID is keyIDRe without the regexp, which costs more than the AES-GCM
// open on the Decrypt path.
func validKeyID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case i < 4 && strings.HasPrefix(id, "mrk-"):
		case (i == 8 || i == 13 || i == 18 || i == 23) && !strings.HasPrefix(id, "mrk-"):
			if c != '-' {
				return false
			}
		case (c < '0' || c > '9') && (c < 'a' || c > 'f'):
			return false
		}
	}
	return true
}

// parsedBlob is a symmetric ciphertext's header.
type parsedBlob struct {
	account, keyID string
	version        uint32
	hdr, rest      []byte
}

func parseBlob(b []byte) (*parsedBlob, bool) {
	if len(b) < 1+12+1 || b[0] != blobVersion {
		return nil, false
	}
	n := int(b[13])
	if len(b) < 14+n+4+12+16 {
		return nil, false
	}
	p := &parsedBlob{account: string(b[1:13]), keyID: string(b[14 : 14+n])}
	if !allDigits(p.account) || !validKeyID(p.keyID) {
		return nil, false
	}
	p.version = binary.BigEndian.Uint32(b[14+n:])
	p.hdr, p.rest = b[:18+n], b[18+n:]
	return p, true
}

func (s *Server) decrypt(c *call) (any, error) {
	in, err := decode[cryptoInput](c)
	if err != nil {
		return nil, err
	}
	k, alg, pt, err := s.open(c, in.CiphertextBlob, in.KeyId, in.EncryptionContext, in.EncryptionAlgorithm, "kms:Decrypt")
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": k.ARN, "Plaintext": pt, "EncryptionAlgorithm": alg}, nil
}

// open decrypts a ciphertext blob for Decrypt and ReEncrypt. Symmetric blobs
// name their key; RSA blobs need the KeyId.
func (s *Server) open(c *call, blob []byte, ref string, ec map[string]string, alg, action string) (*key, string, []byte, error) {
	if err := lengthErr("ciphertextBlob", len(blob), 1, 6144); err != nil {
		return nil, "", nil, err
	}
	if alg == "" {
		alg = algSymmetric
	}
	if alg != algSymmetric {
		return s.openRSA(c, blob, ref, ec, alg, action)
	}
	p, ok := parseBlob(blob)
	if !ok {
		return nil, "", nil, errInvalidCiphertext
	}
	named := keyARN(c.region, p.account, p.keyID)
	if ref != "" {
		k, err := s.resolveKey(c, ref, true)
		if err != nil {
			return nil, "", nil, err
		}
		if k.ARN != named {
			return nil, "", nil, errIncorrectKey
		}
	}
	k, _, err := s.cryptoKey(c, named, action, ec, alg)
	if err != nil {
		return nil, "", nil, err
	}
	pt, ok := s.openSymmetric(k, p, ec)
	if !ok {
		return nil, "", nil, errInvalidCiphertext
	}
	return k, alg, pt, nil
}

func (s *Server) openSymmetric(k *key, p *parsedBlob, ec map[string]string) ([]byte, bool) {
	m := s.st.Materials[k.MaterialID]
	if int(p.version) >= len(m.Versions) || len(p.rest) < 12 {
		return nil, false
	}
	pt, err := m.Versions[p.version].gcm().Open(nil, p.rest[:12], p.rest[12:], additionalData(p.hdr, ec))
	return pt, err == nil
}

func (s *Server) openRSA(c *call, blob []byte, ref string, ec map[string]string, alg, action string) (*key, string, []byte, error) {
	if ref == "" {
		return nil, "", nil, validationErr("KeyId is required to decrypt with an asymmetric KMS key")
	}
	k, alg, err := s.cryptoKey(c, ref, action, ec, alg)
	if err != nil {
		return nil, "", nil, err
	}
	priv := s.st.Materials[k.MaterialID].private()
	pt, err := rsa.DecryptOAEP(oaepHash(alg), nil, priv, blob, nil)
	if err != nil {
		return nil, "", nil, errInvalidCiphertext
	}
	return k, alg, pt, nil
}

func (s *Server) reEncrypt(c *call) (any, error) {
	in, err := decode[cryptoInput](c)
	if err != nil {
		return nil, err
	}
	src, srcAlg, pt, err := s.open(c, in.CiphertextBlob, in.SourceKeyId, in.SourceEncryptionContext, in.SourceEncryptionAlgorithm, "kms:ReEncryptFrom")
	if err != nil {
		return nil, err
	}
	if err := required("destinationKeyId", in.DestinationKeyId); err != nil {
		return nil, err
	}
	dst, dstAlg, err := s.cryptoKey(c, in.DestinationKeyId, "kms:ReEncryptTo", in.DestinationEncryptionContext, in.DestinationEncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	blob, err := s.seal(dst, dstAlg, pt, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"CiphertextBlob": blob, "SourceKeyId": src.ARN, "KeyId": dst.ARN,
		"SourceEncryptionAlgorithm": srcAlg, "DestinationEncryptionAlgorithm": dstAlg,
	}, nil
}

func (s *Server) generateDataKey(c *call) (any, error) {
	return s.dataKey(c, "kms:GenerateDataKey", true)
}

func (s *Server) generateDataKeyWithoutPlaintext(c *call) (any, error) {
	return s.dataKey(c, "kms:GenerateDataKeyWithoutPlaintext", false)
}

func (s *Server) dataKey(c *call, action string, withPlaintext bool) (any, error) {
	in, err := decode[cryptoInput](c)
	if err != nil {
		return nil, err
	}
	n, err := dataKeySize(in)
	if err != nil {
		return nil, err
	}
	k, _, err := s.cryptoKey(c, in.KeyId, action, in.EncryptionContext, "")
	if err != nil {
		return nil, err
	}
	pt := randomBytes(n)
	blob, err := s.seal(k, algSymmetric, pt, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"CiphertextBlob": blob, "KeyId": k.ARN}
	if withPlaintext {
		out["Plaintext"] = pt
	}
	return out, nil
}

func dataKeySize(in *cryptoInput) (int, error) {
	switch {
	case in.KeySpec != "" && in.NumberOfBytes != nil:
		return 0, validationErr("Please specify either number of bytes or key spec.")
	case in.KeySpec == "AES_256":
		return 32, nil
	case in.KeySpec == "AES_128":
		return 16, nil
	case in.KeySpec != "":
		return 0, validationErr("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
	case in.NumberOfBytes == nil:
		return 0, validationErr("Please specify either number of bytes or key spec.")
	case *in.NumberOfBytes < 1 || *in.NumberOfBytes > 1024:
		return 0, validationErr("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", *in.NumberOfBytes)
	}
	return int(*in.NumberOfBytes), nil
}

func (s *Server) getPublicKey(c *call) (any, error) {
	in, err := decode[keyIDInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, true, "kms:GetPublicKey", nil)
	if err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if k.symmetric() {
		return nil, unsupportedErr("%s key type is not supported for this operation", k.Spec)
	}
	der, err := x509.MarshalPKIXPublicKey(&s.st.Materials[k.MaterialID].private().PublicKey)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"KeyId": k.ARN, "PublicKey": der, "CustomerMasterKeySpec": k.Spec, "KeySpec": k.Spec,
		"KeyUsage": "ENCRYPT_DECRYPT", "EncryptionAlgorithms": encryptionAlgorithms(k),
	}, nil
}
