package awsemu

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Key states, spelled as KMS spells them on the wire.
const (
	stateEnabled                = "Enabled"
	stateDisabled               = "Disabled"
	statePendingDeletion        = "PendingDeletion"
	statePendingReplicaDeletion = "PendingReplicaDeletion"
)

const (
	specSymmetric = "SYMMETRIC_DEFAULT"
	algSymmetric  = "SYMMETRIC_DEFAULT"
	algOAEPSHA1   = "RSAES_OAEP_SHA_1"
	algOAEPSHA256 = "RSAES_OAEP_SHA_256"
)

// rsaBits maps the RSA key specs to their sizes.
var rsaBits = map[string]int{"RSA_2048": 2048, "RSA_3072": 3072, "RSA_4096": 4096}

// state is everything the emulator knows; it is what the state file holds.
type state struct {
	ClockOffset time.Duration        `json:"clock_offset"`
	Accounts    map[string]*account  `json:"accounts"`
	Keys        map[string]*key      `json:"keys"` // by key ARN
	Materials   map[string]*material `json:"materials"`
	Aliases     map[string]*alias    `json:"aliases"`     // by alias ARN
	Sessions    map[string]*session  `json:"sessions"`    // by access key id
	SessionKey  []byte               `json:"session_key"` // authenticates session tokens; see sessionToken
	AccessKeys  map[string]accessKey `json:"-"`           // rebuilt from Accounts
}

type accessKey struct{ account, user string }

type account struct {
	ID    string           `json:"id"`
	Users map[string]*user `json:"users"`
	Roles map[string]*role `json:"roles"`
}

type user struct {
	Name            string            `json:"name"`
	AccessKeyID     string            `json:"access_key_id"`
	SecretAccessKey string            `json:"secret_access_key"`
	Policies        map[string]string `json:"policies"`
}

type role struct {
	Name               string            `json:"name"`
	TrustPolicy        string            `json:"trust_policy"`
	Policies           map[string]string `json:"policies"`
	MaxSessionDuration int               `json:"max_session_duration"`
}

// session is a set of temporary credentials issued by AssumeRole.
type session struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token"`
	Account         string    `json:"account"`
	Role            string    `json:"role"`
	SessionName     string    `json:"session_name"`
	Expiration      time.Time `json:"expiration"`
}

type key struct {
	ID            string            `json:"id"`
	ARN           string            `json:"arn"`
	Account       string            `json:"account"`
	Region        string            `json:"region"`
	Spec          string            `json:"spec"`
	Description   string            `json:"description"`
	State         string            `json:"state"`
	Created       time.Time         `json:"created"`
	DeletionDate  time.Time         `json:"deletion_date"`
	PendingWindow int               `json:"pending_window"`
	Policy        string            `json:"policy"`
	Tags          map[string]string `json:"tags"`
	MultiRegion   bool              `json:"multi_region"`
	MaterialID    string            `json:"material_id"`
	Grants        []*grant          `json:"grants"`
}

func (k *key) symmetric() bool { return k.Spec == specSymmetric }

// material is the key material and rotation settings, shared by a multi-Region
// key's primary and replicas.
type material struct {
	ID             string        `json:"id"`
	Versions       []*backingKey `json:"versions"` // symmetric keys; index is the version in ciphertexts
	RSAPrivate     []byte        `json:"rsa_private,omitempty"`
	PrimaryRegion  string        `json:"primary_region,omitempty"`
	Rotation       bool          `json:"rotation"`
	RotationPeriod int           `json:"rotation_period"`
	NextRotation   time.Time     `json:"next_rotation"`

	rsaKey *rsa.PrivateKey
}

type backingKey struct {
	Secret  []byte    `json:"secret"`
	Created time.Time `json:"created"`
	Type    string    `json:"type,omitempty"` // "", AUTOMATIC or ON_DEMAND

	aead cipher.AEAD
}

func (b *backingKey) gcm() cipher.AEAD {
	if b.aead == nil {
		block, err := aes.NewCipher(b.Secret)
		if err != nil {
			panic(err) // secrets are always 32 bytes
		}
		b.aead, _ = cipher.NewGCM(block)
	}
	return b.aead
}

func (m *material) private() *rsa.PrivateKey {
	if m.rsaKey == nil && m.RSAPrivate != nil {
		k, err := x509.ParsePKCS8PrivateKey(m.RSAPrivate)
		if err == nil {
			m.rsaKey, _ = k.(*rsa.PrivateKey)
		}
	}
	return m.rsaKey
}

func newMaterial(spec string, now time.Time) (*material, error) {
	m := &material{ID: randomHex(16), RotationPeriod: 365}
	if spec == specSymmetric {
		m.Versions = []*backingKey{{Secret: randomBytes(32), Created: now}}
		return m, nil
	}
	bits, ok := rsaBits[spec]
	if !ok {
		return nil, fmt.Errorf("unsupported key spec %s", spec)
	}
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	m.RSAPrivate, m.rsaKey = der, priv
	return m, nil
}

type alias struct {
	Name    string    `json:"name"` // alias/...
	ARN     string    `json:"arn"`
	Account string    `json:"account"`
	Region  string    `json:"region"`
	KeyID   string    `json:"key_id"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

type grant struct {
	ID             string            `json:"id"`
	Token          string            `json:"token"`
	Name           string            `json:"name,omitempty"`
	Created        time.Time         `json:"created"`
	Grantee        string            `json:"grantee"`
	Retiring       string            `json:"retiring,omitempty"`
	IssuingAccount string            `json:"issuing_account"`
	Operations     []string          `json:"operations"`
	ContextSubset  map[string]string `json:"context_subset,omitempty"`
	ContextEquals  map[string]string `json:"context_equals,omitempty"`
}

func keyARN(region, account, id string) string {
	return "arn:aws:kms:" + region + ":" + account + ":key/" + id
}

func aliasARN(region, account, name string) string {
	return "arn:aws:kms:" + region + ":" + account + ":" + name
}

func rootARN(account string) string { return "arn:aws:iam::" + account + ":root" }

func userARN(account, name string) string { return "arn:aws:iam::" + account + ":user/" + name }

func roleARN(account, name string) string { return "arn:aws:iam::" + account + ":role/" + name }

func assumedRoleARN(account, role, sess string) string {
	return "arn:aws:sts::" + account + ":assumed-role/" + role + "/" + sess
}

// uniqueID derives a stable IAM unique id (AIDA... for users, AROA... for
// roles) from the entity's ARN.
func uniqueID(prefix, arn string) string {
	sum := sha256.Sum256([]byte(arn))
	return prefix + strings.ToUpper(hex.EncodeToString(sum[:]))[:17]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

// newKeyID returns a key id in the form KMS uses: a UUID, or mrk- and 32 hex
// digits for multi-Region keys.
func newKeyID(multiRegion bool) string {
	if multiRegion {
		return "mrk-" + randomHex(16)
	}
	return newUUID()
}

func newUUID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomAccessKeyID(prefix string) string {
	b := randomBytes(16)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return prefix + string(b)
}
