package awskms

import (
	"context"
	"crypto/rsa"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// ProviderName is the KeyRef.Provider of AWS KMS keys.
const ProviderName = "aws-kms"

// Wrapping algorithms, as recorded in kms.Wrapped.Algorithm.
const (
	AlgorithmSymmetric = "SYMMETRIC_DEFAULT"
	AlgorithmRSAOAEP   = "RSAES_OAEP_SHA_256"
)

// Provider is the AWS KMS [kms.Provider]. It is safe for concurrent use.
type Provider struct {
	cfg     Config
	clients *clients

	mu       sync.Mutex
	breakers map[string]*breaker // by region
	keys     map[ARN]*keyEntry   // by the key's ARN (or alias ARN) in its own region
	// noReEncrypt is when KMS last denied a ReEncrypt between two keys.
	noReEncrypt map[keyPair]time.Time
}

var _ kms.Provider = (*Provider)(nil)

// keyEntry is what the provider learns once about a key: its key ARN (an
// alias resolved), its spec and, for RSA keys, the public key.
type keyEntry struct {
	arn  ARN
	spec types.KeySpec
	pub  *rsa.PublicKey
}

// New returns a provider. It makes no AWS call: credentials and keys are
// first used by the provider's methods. ctx is accepted for symmetry with
// them and is not retained.
func New(_ context.Context, cfg Config) (*Provider, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("awskms: config: %w", err)
	}
	cfg.IntegrityKey = slices.Clone(cfg.IntegrityKey)
	return &Provider{
		cfg: cfg, clients: newClients(cfg),
		breakers: map[string]*breaker{}, keys: map[ARN]*keyEntry{},
		noReEncrypt: map[keyPair]time.Time{},
	}, nil
}

// begin validates a call's identity and key and bounds ctx by the call
// timeout. On success the caller must call the returned cancel.
func (p *Provider) begin(ctx context.Context, op string, ref kms.KeyRef, b kms.Identity) (context.Context, context.CancelFunc, route, error) {
	if err := b.Validate(); err != nil {
		return nil, nil, route{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, route{}, &kms.Error{Class: kms.Unavailable, Op: op, Key: ref.ID, Err: err}
	}
	rt, err := p.route(op, ref, b.Tenant)
	if err != nil {
		return nil, nil, route{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CallTimeout)
	return ctx, cancel, rt, nil
}

// GenerateAndWrap creates a tenant key for b under ref's key. A symmetric key
// generates it (GenerateDataKey, AES_256, the identity as encryption
// context); for an RSA key it is generated locally and wrapped with the
// cached public key, with no KMS call.
func (p *Provider) GenerateAndWrap(ctx context.Context, ref kms.KeyRef, b kms.Identity) (*envelope.TenantKey, *kms.Wrapped, error) {
	ctx, cancel, rt, err := p.begin(ctx, "generate", ref, b)
	if err != nil {
		return nil, nil, err
	}
	defer cancel()
	k, err := p.lookupKey(ctx, "generate", rt)
	if err != nil {
		return nil, nil, err
	}
	if k.pub == nil {
		return p.generateSymmetric(ctx, ref, rt, b)
	}
	key, err := envelope.GenerateTenantKey(b.Tenant, b.Version, nil)
	if err != nil {
		return nil, nil, &kms.Error{Class: kms.Unavailable, Op: "generate", Err: err}
	}
	w, err := p.wrapRSA("generate", ref, k, key, b)
	if err != nil {
		key.Destroy()
		return nil, nil, err
	}
	return key, w, nil
}

func (p *Provider) generateSymmetric(ctx context.Context, ref kms.KeyRef, rt route, b kms.Identity) (*envelope.TenantKey, *kms.Wrapped, error) {
	var out *kmsapi.GenerateDataKeyOutput
	err := p.do(ctx, "generate", rt, func(ctx context.Context, c *kmsapi.Client, arn ARN) (err error) {
		out, err = c.GenerateDataKey(ctx, &kmsapi.GenerateDataKeyInput{
			KeyId: aws.String(arn.String()), KeySpec: types.DataKeySpecAes256, EncryptionContext: b.EncryptionContext(),
		})
		return err
	})
	if err != nil {
		p.forgetOnUsage(rt, err)
		return nil, nil, err
	}
	defer clear(out.Plaintext)
	key, err := envelope.NewTenantKey(b.Tenant, b.Version, out.Plaintext)
	if err != nil {
		return nil, nil, &kms.Error{Class: kms.Unavailable, Op: "generate", Key: rt.primary().String(), Err: err}
	}
	return key, p.wrapped(ref, rt, aws.ToString(out.KeyId), AlgorithmSymmetric, out.CiphertextBlob, out.ResultMetadata), nil
}

// Wrap wraps key under ref's key: Encrypt with the identity as encryption
// context for a symmetric key, local RSA-OAEP-SHA-256 for an RSA key.
func (p *Provider) Wrap(ctx context.Context, ref kms.KeyRef, key *envelope.TenantKey, b kms.Identity) (*kms.Wrapped, error) {
	if key == nil || key.Tenant() != b.Tenant || key.Version() != b.Version {
		return nil, misconfigured("wrap", ref.ID, fmt.Errorf("tenant key does not belong to identity %s/%d", b.Tenant, b.Version))
	}
	ctx, cancel, rt, err := p.begin(ctx, "wrap", ref, b)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return p.wrapKey(ctx, "wrap", ref, rt, key, b)
}

func (p *Provider) wrapKey(ctx context.Context, op string, ref kms.KeyRef, rt route, key *envelope.TenantKey, b kms.Identity) (*kms.Wrapped, error) {
	k, err := p.lookupKey(ctx, op, rt)
	if err != nil {
		return nil, err
	}
	if k.pub != nil {
		return p.wrapRSA(op, ref, k, key, b)
	}
	material := key.Material()
	defer clear(material)
	var out *kmsapi.EncryptOutput
	err = p.do(ctx, op, rt, func(ctx context.Context, c *kmsapi.Client, arn ARN) (err error) {
		out, err = c.Encrypt(ctx, &kmsapi.EncryptInput{
			KeyId: aws.String(arn.String()), Plaintext: material, EncryptionContext: b.EncryptionContext(),
		})
		return err
	})
	if err != nil {
		p.forgetOnUsage(rt, err)
		return nil, err
	}
	return p.wrapped(ref, rt, aws.ToString(out.KeyId), AlgorithmSymmetric, out.CiphertextBlob, out.ResultMetadata), nil
}

// Unwrap returns the tenant key inside w. An RSA wrapping's identity tag is
// checked first, so a forged or moved wrapping costs no KMS call.
func (p *Provider) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	if w == nil {
		return nil, misconfigured("unwrap", "", fmt.Errorf("nil wrapped key"))
	}
	ctx, cancel, rt, err := p.begin(ctx, "unwrap", w.Key, b)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return p.unwrap(ctx, "unwrap", rt, w, b)
}

func (p *Provider) unwrap(ctx context.Context, op string, rt route, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	in, err := p.decryptInput(op, rt, w, b)
	if err != nil {
		return nil, err
	}
	var out *kmsapi.DecryptOutput
	err = p.do(ctx, op, rt, func(ctx context.Context, c *kmsapi.Client, arn ARN) (err error) {
		req := *in
		req.KeyId = aws.String(arn.String())
		out, err = c.Decrypt(ctx, &req)
		return wrongAlgorithm(op, arn, err)
	})
	if err != nil {
		return nil, err
	}
	defer clear(out.Plaintext)
	key, err := envelope.NewTenantKey(b.Tenant, b.Version, out.Plaintext)
	if err != nil {
		return nil, &kms.Error{Class: kms.InvalidCiphertext, Op: op, Key: rt.primary().String(), Err: fmt.Errorf("wrapped key is not a tenant key")}
	}
	return key, nil
}

// decryptInput is the Decrypt request for w, once its identity is checked.
// The identity of a symmetric wrapping is checked by KMS (encryption context).
func (p *Provider) decryptInput(op string, rt route, w *kms.Wrapped, b kms.Identity) (*kmsapi.DecryptInput, error) {
	switch w.Algorithm {
	case AlgorithmSymmetric:
		return &kmsapi.DecryptInput{CiphertextBlob: w.Ciphertext, EncryptionContext: b.EncryptionContext()}, nil
	case AlgorithmRSAOAEP:
		if err := p.verifyTag(op, rt, w, b); err != nil {
			return nil, err
		}
		return &kmsapi.DecryptInput{CiphertextBlob: w.Ciphertext, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}, nil
	}
	return nil, &kms.Error{Class: kms.InvalidCiphertext, Op: op, Key: w.Key.ID, Err: fmt.Errorf("unknown wrapping algorithm %q", w.Algorithm)}
}

// wrongAlgorithm turns KMS refusing the algorithm of a wrapping into
// InvalidCiphertext: the wrapping claims an algorithm its key does not have,
// so it was altered or made under another key.
func wrongAlgorithm(op string, arn ARN, err error) error {
	if err != nil && classify(err) == kms.Misconfigured && isCode(err, (&types.InvalidKeyUsageException{}).ErrorCode()) {
		return kmsError(kms.InvalidCiphertext, op, arn, err)
	}
	return err
}

// Rewrap moves w under to. When both keys are symmetric, share a region and
// are reached with the same credentials, one ReEncrypt does it and the
// tenant key never leaves KMS. Otherwise (another region, another role, an
// RSA key on either side) ReEncrypt cannot work, as one request is signed by
// one principal in one region: the key is unwrapped with the source's
// credentials and wrapped with the destination's, and destroyed after.
//
// A ReEncrypt that KMS denies (a key policy granting only kms:Encrypt and
// kms:Decrypt, as vendors' minimal permission sets do) falls back to that
// same Decrypt then wrap, with the same identity as encryption context on
// both calls, and the denial is remembered for the pair of keys for
// [reEncryptRetry], so that the following versions cost no denied call.
// A key that denies Decrypt too fails as Denied.
func (p *Provider) Rewrap(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Identity) (*kms.Wrapped, error) {
	if w == nil {
		return nil, misconfigured("rewrap", "", fmt.Errorf("nil wrapped key"))
	}
	ctx, cancel, src, err := p.begin(ctx, "rewrap", w.Key, b)
	if err != nil {
		return nil, err
	}
	defer cancel()
	dst, err := p.route("rewrap", to, b.Tenant)
	if err != nil {
		return nil, err
	}
	dk, err := p.lookupKey(ctx, "rewrap", dst)
	if err != nil {
		return nil, err
	}
	if pairs := reEncryptRoute(w, src, dst, dk); len(pairs.arns) > 0 && !p.reEncryptDenied(src, dst) {
		moved, err := p.reEncrypt(ctx, to, pairs, dst, w, b)
		if kms.ClassOf(err) != kms.Denied {
			return moved, err
		}
		p.denyReEncrypt(src, dst)
	}
	key, err := p.unwrap(ctx, "rewrap", src, w, b)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	return p.wrapKey(ctx, "rewrap", to, dst, key, b)
}

// reEncryptRetry is how long a denied ReEncrypt between two keys is
// remembered: a customer who grants kms:ReEncrypt* later gets it used
// within this time, without a restart.
const reEncryptRetry = time.Hour

// keyPair names a source and a destination key reached with one access.
type keyPair struct {
	src, dst ARN
	access   access
}

func pairOf(src, dst route) keyPair {
	return keyPair{src: src.primary(), dst: dst.primary(), access: src.access}
}

// reEncryptDenied reports whether KMS denied a ReEncrypt from src to dst
// less than reEncryptRetry ago.
func (p *Provider) reEncryptDenied(src, dst route) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.noReEncrypt[pairOf(src, dst)]
	return ok && p.cfg.Clock().Sub(at) < reEncryptRetry
}

func (p *Provider) denyReEncrypt(src, dst route) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noReEncrypt[pairOf(src, dst)] = p.cfg.Clock()
}

// reEncryptRoute returns the source route restricted to the regions where
// ReEncrypt can move w to dst, or an empty route.
func reEncryptRoute(w *kms.Wrapped, src, dst route, dk *keyEntry) route {
	if w.Algorithm != AlgorithmSymmetric || dk.pub != nil || src.access != dst.access {
		return route{}
	}
	out := route{access: src.access}
	for _, a := range src.arns {
		if slices.ContainsFunc(dst.arns, func(d ARN) bool { return d.Region == a.Region }) {
			out.arns = append(out.arns, a)
		}
	}
	return out
}

func (p *Provider) reEncrypt(ctx context.Context, to kms.KeyRef, rt, dst route, w *kms.Wrapped, b kms.Identity) (*kms.Wrapped, error) {
	ec := b.EncryptionContext()
	var out *kmsapi.ReEncryptOutput
	err := p.do(ctx, "rewrap", rt, func(ctx context.Context, c *kmsapi.Client, arn ARN) (err error) {
		i := slices.IndexFunc(dst.arns, func(d ARN) bool { return d.Region == arn.Region })
		out, err = c.ReEncrypt(ctx, &kmsapi.ReEncryptInput{
			CiphertextBlob: w.Ciphertext, SourceKeyId: aws.String(arn.String()), SourceEncryptionContext: ec,
			DestinationKeyId: aws.String(dst.arns[i].String()), DestinationEncryptionContext: ec,
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return p.wrapped(to, dst, aws.ToString(out.KeyId), AlgorithmSymmetric, out.CiphertextBlob, out.ResultMetadata), nil
}

// Probe unwraps w and discards the key: the cheapest call that proves the
// platform may still decrypt with the customer's key.
func (p *Provider) Probe(ctx context.Context, w *kms.Wrapped, b kms.Identity) error {
	key, err := p.Unwrap(ctx, w, b)
	if err != nil {
		return err
	}
	key.Destroy()
	return nil
}

// wrapped builds the stored form of a wrapping made by KMS under keyID (the
// ARN KMS answered with, in whichever region served the call). Its key is
// recorded as the key ARN in the route's first region, so that an alias
// moved later does not change which key unwraps it.
func (p *Provider) wrapped(ref kms.KeyRef, rt route, keyID, alg string, ct []byte, md middleware.Metadata) *kms.Wrapped {
	arn := rt.primary()
	if a, err := ParseARN(keyID); err == nil && a.Kind == KeyARN {
		if a, err = a.InRegion(arn.Region); err == nil {
			arn = a
		}
	}
	rid, _ := awsmiddleware.GetRequestIDMetadata(md)
	return &kms.Wrapped{Key: storedRef(ref, arn), Algorithm: alg, Ciphertext: ct, RequestID: rid}
}

func storedRef(ref kms.KeyRef, arn ARN) kms.KeyRef {
	ref.ID = arn.String()
	ref.FailoverRegions = slices.Clone(ref.FailoverRegions)
	return ref
}
