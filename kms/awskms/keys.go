package awskms

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// rsaBits are the RSA key specs the provider wraps under.
var rsaBits = map[types.KeySpec]int{types.KeySpecRsa2048: 2048, types.KeySpecRsa3072: 3072, types.KeySpecRsa4096: 4096}

// lookupKey returns what the provider knows of rt's key, asking KMS once
// (DescribeKey, and GetPublicKey for an RSA key) and caching the answer for
// the provider's lifetime.
func (p *Provider) lookupKey(ctx context.Context, op string, rt route) (*keyEntry, error) {
	p.mu.Lock()
	k, ok := p.keys[rt.primary()]
	p.mu.Unlock()
	if ok {
		return k, nil
	}
	md, rid, err := p.describeKey(ctx, op, rt)
	if err != nil {
		return nil, err
	}
	k, err = p.newKeyEntry(ctx, op, rt, md)
	if err != nil {
		var ke *kms.Error
		if errors.As(err, &ke) && ke.RequestID == "" {
			ke.RequestID = rid
		}
		return nil, err
	}
	p.mu.Lock()
	p.keys[rt.primary()] = k
	p.mu.Unlock()
	return k, nil
}

// forgetOnUsage drops the cached spec of rt's key when KMS says the key
// cannot do the operation: an alias may have been moved to another key.
func (p *Provider) forgetOnUsage(rt route, err error) {
	if isCode(err, (&types.InvalidKeyUsageException{}).ErrorCode()) {
		p.mu.Lock()
		delete(p.keys, rt.primary())
		p.mu.Unlock()
	}
}

func (p *Provider) describeKey(ctx context.Context, op string, rt route) (*types.KeyMetadata, string, error) {
	var out *kmsapi.DescribeKeyOutput
	err := p.do(ctx, op, rt, func(ctx context.Context, c *kmsapi.Client, arn ARN) (err error) {
		out, err = c.DescribeKey(ctx, &kmsapi.DescribeKeyInput{KeyId: aws.String(arn.String())})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	rid, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	if out.KeyMetadata == nil {
		return nil, rid, kmsError(kms.Unavailable, op, rt.primary(), errors.New("DescribeKey answered no key metadata"))
	}
	return out.KeyMetadata, rid, nil
}

// newKeyEntry checks that the key can wrap tenant keys: a symmetric
// encryption key, or an RSA encryption key offering RSAES_OAEP_SHA_256.
func (p *Provider) newKeyEntry(ctx context.Context, op string, rt route, md *types.KeyMetadata) (*keyEntry, error) {
	arn, err := ParseARN(aws.ToString(md.Arn))
	if err == nil {
		arn, err = arn.InRegion(rt.primary().Region)
	}
	if err != nil {
		return nil, kmsError(kms.Unavailable, op, rt.primary(), fmt.Errorf("DescribeKey answered a bad ARN: %w", err))
	}
	k := &keyEntry{arn: arn, spec: md.KeySpec}
	bad := func(format string, a ...any) error {
		return kmsError(kms.Misconfigured, op, arn, fmt.Errorf(format, a...))
	}
	if md.KeyUsage != types.KeyUsageTypeEncryptDecrypt {
		return nil, bad("key usage is %s, want ENCRYPT_DECRYPT", md.KeyUsage)
	}
	if md.KeySpec == types.KeySpecSymmetricDefault {
		return k, nil
	}
	if _, ok := rsaBits[md.KeySpec]; !ok {
		return nil, bad("key spec is %s, want SYMMETRIC_DEFAULT or RSA_2048, RSA_3072, RSA_4096", md.KeySpec)
	}
	if !slices.Contains(md.EncryptionAlgorithms, types.EncryptionAlgorithmSpecRsaesOaepSha256) {
		return nil, bad("key does not offer RSAES_OAEP_SHA_256")
	}
	k.pub, err = p.publicKey(ctx, op, rt, k)
	return k, err
}

// publicKey fetches an RSA key's public half. Wrapping uses it locally, so
// the customer's CloudTrail shows this one GetPublicKey, not a call per wrap.
func (p *Provider) publicKey(ctx context.Context, op string, rt route, k *keyEntry) (*rsa.PublicKey, error) {
	var out *kmsapi.GetPublicKeyOutput
	err := p.do(ctx, op, rt, func(ctx context.Context, c *kmsapi.Client, arn ARN) (err error) {
		out, err = c.GetPublicKey(ctx, &kmsapi.GetPublicKeyInput{KeyId: aws.String(arn.String())})
		return err
	})
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	rsaPub, ok := pub.(*rsa.PublicKey)
	if err != nil || !ok || rsaPub.N.BitLen() != rsaBits[k.spec] {
		rid, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
		e := kmsError(kms.Unavailable, op, k.arn, fmt.Errorf("GetPublicKey answered no %s public key (%v)", k.spec, err))
		e.RequestID = rid
		return nil, e
	}
	return rsaPub, nil
}

// wrapRSA wraps key with RSA-OAEP-SHA-256 under k's public key, locally,
// and tags the wrapping with its identity.
func (p *Provider) wrapRSA(op string, ref kms.KeyRef, k *keyEntry, key *envelope.TenantKey, b kms.Identity) (*kms.Wrapped, error) {
	if p.cfg.IntegrityKey == nil {
		return nil, kmsError(kms.Misconfigured, op, k.arn, errNoIntegrityKey)
	}
	material := key.Material()
	defer clear(material)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.pub, material, nil)
	if err != nil {
		return nil, kmsError(kms.Misconfigured, op, k.arn, err)
	}
	w := &kms.Wrapped{Key: storedRef(ref, k.arn), Algorithm: AlgorithmRSAOAEP, Ciphertext: ct}
	w.IdentityTag = p.identityTag(w, b)
	return w, nil
}

var errNoIntegrityKey = errors.New("RSA keys need Config.IntegrityKey")

// verifyTag checks an RSA wrapping's identity tag before any KMS call.
func (p *Provider) verifyTag(op string, rt route, w *kms.Wrapped, b kms.Identity) error {
	if p.cfg.IntegrityKey == nil {
		return kmsError(kms.Misconfigured, op, rt.primary(), errNoIntegrityKey)
	}
	if !hmac.Equal(w.IdentityTag, p.identityTag(w, b)) {
		return kmsError(kms.InvalidCiphertext, op, rt.primary(),
			errors.New("identity tag does not match: the wrapping was altered, moved to another identity or key, or not made by this platform"))
	}
	return nil
}

// tagLabel separates identity tags from any other use of the integrity key.
// It keeps the tag's first name: changing it would invalidate every RSA
// wrapping made so far.
const tagLabel = "byok awskms RSA binding tag v1"

// identityTag is HMAC-SHA-256 under the integrity key over the label, the
// identity (tenant, version, purpose), the key ARN, the algorithm and the
// ciphertext, each field prefixed by its 4-byte big-endian length.
func (p *Provider) identityTag(w *kms.Wrapped, b kms.Identity) []byte {
	m := hmac.New(sha256.New, p.cfg.IntegrityKey)
	version := binary.BigEndian.AppendUint32(nil, b.Version)
	for _, f := range [][]byte{[]byte(tagLabel), []byte(b.Tenant), version, []byte(b.Purpose), []byte(w.Key.ID), []byte(w.Algorithm), w.Ciphertext} {
		m.Write(binary.BigEndian.AppendUint32(nil, uint32(len(f))))
		m.Write(f)
	}
	return m.Sum(nil)
}

// Describe returns ref's key metadata from DescribeKey. RotationEnabled is
// not filled in: it needs kms:GetKeyRotationStatus, which the key policy
// the platform asks customers for does not grant.
func (p *Provider) Describe(ctx context.Context, ref kms.KeyRef, tenant string) (*kms.KeyInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, &kms.Error{Class: kms.Unavailable, Op: "describe", Key: ref.ID, Err: err}
	}
	rt, err := p.route("describe", ref, tenant)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	defer cancel()
	md, rid, err := p.describeKey(ctx, "describe", rt)
	if err != nil {
		return nil, err
	}
	return keyInfo(md, rid), nil
}

func keyInfo(md *types.KeyMetadata, rid string) *kms.KeyInfo {
	info := &kms.KeyInfo{
		ARN: aws.ToString(md.Arn), KeyID: aws.ToString(md.KeyId), Account: aws.ToString(md.AWSAccountId),
		KeySpec: string(md.KeySpec), KeyUsage: string(md.KeyUsage), State: string(md.KeyState),
		MultiRegion: aws.ToBool(md.MultiRegion), RequestID: rid,
	}
	for _, a := range md.EncryptionAlgorithms {
		info.EncryptionAlgorithms = append(info.EncryptionAlgorithms, string(a))
	}
	if a, err := ParseARN(info.ARN); err == nil {
		info.Region = a.Region
	}
	if md.DeletionDate != nil {
		info.DeletionDate = md.DeletionDate.UTC().Format(time.RFC3339)
	}
	if mr := md.MultiRegionConfiguration; mr != nil {
		if mr.PrimaryKey != nil {
			info.PrimaryRegion = aws.ToString(mr.PrimaryKey.Region)
		}
		for _, r := range mr.ReplicaKeys {
			info.ReplicaRegions = append(info.ReplicaRegions, aws.ToString(r.Region))
		}
	}
	return info
}
