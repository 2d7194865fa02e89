package awskms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/byok-dev/byok/kms"
)

// access is how the platform reaches a key: with its own credentials (role
// empty) or through a customer role assumed with an external id, in a session
// named after the tenant.
type access struct {
	role, externalID, session string
}

type clientKey struct {
	region string
	access access
}

// regionClient is a KMS client for one region and access; sess is nil for
// direct access.
type regionClient struct {
	kms  *kmsapi.Client
	sess *session
}

// clients caches SDK clients per region and access. Clients live as long as
// the provider: their number is bounded by regions × customer roles.
type clients struct {
	cfg Config

	mu  sync.Mutex
	kms map[clientKey]*regionClient
	sts map[string]*sts.Client
}

func newClients(cfg Config) *clients {
	return &clients{cfg: cfg, kms: map[clientKey]*regionClient{}, sts: map[string]*sts.Client{}}
}

// get returns the client for key, creating it (and its session) on first use.
func (c *clients) get(key clientKey) *regionClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.kms[key]; ok {
		return rc
	}
	rc := &regionClient{}
	var creds aws.CredentialsProvider
	if key.access.role != "" {
		rc.sess = c.newSession(key)
		creds = rc.sess
	}
	rc.kms = kmsapi.NewFromConfig(c.cfg.AWS, func(o *kmsapi.Options) {
		o.Region = key.region
		o.Retryer, o.RetryMaxAttempts = aws.NopRetryer{}, 0
		o.APIOptions = append(o.APIOptions, observeRequests("kms"))
		if ep := c.endpoint("kms", key.region); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
		if creds != nil {
			o.Credentials = creds
		}
	})
	c.kms[key] = rc
	return rc
}

// stsClient returns the region's STS client, signed with the platform's own
// credentials. Called with c.mu held.
func (c *clients) stsClient(region string) *sts.Client {
	if s, ok := c.sts[region]; ok {
		return s
	}
	s := sts.NewFromConfig(c.cfg.AWS, func(o *sts.Options) {
		o.Region = region
		o.Retryer, o.RetryMaxAttempts = aws.NopRetryer{}, 0
		o.APIOptions = append(o.APIOptions, observeRequests("sts"))
		if ep := c.endpoint("sts", region); ep != "" {
			o.BaseEndpoint = aws.String(ep)
		}
	})
	c.sts[region] = s
	return s
}

func (c *clients) endpoint(service, region string) string {
	if c.cfg.Endpoint == nil {
		return ""
	}
	return c.cfg.Endpoint(service, region)
}

func (c *clients) newSession(key clientKey) *session {
	in := sts.AssumeRoleInput{
		RoleArn:         aws.String(key.access.role),
		RoleSessionName: aws.String(key.access.session),
		DurationSeconds: aws.Int32(int32(c.cfg.SessionDuration / time.Second)),
	}
	if key.access.externalID != "" {
		in.ExternalId = aws.String(key.access.externalID)
	}
	return &session{sts: c.stsClient(key.region), in: in, clock: c.cfg.Clock, window: c.cfg.RefreshWindow}
}

// session is an aws.CredentialsProvider for one assumed-role session. It
// replaces the credentials RefreshWindow before they expire, by the
// provider's clock. It is its own cache, rather than aws.CredentialsCache,
// because that cache reads the SDK's global clock; the SDK client does not
// wrap it again.
type session struct {
	sts    *sts.Client
	in     sts.AssumeRoleInput
	clock  func() time.Time
	window time.Duration

	mu    sync.Mutex
	creds aws.Credentials
}

// Retrieve returns the session's credentials, assuming the role when there
// are none or they are about to expire. Callers wait for one AssumeRole at a
// time.
func (s *session) Retrieve(ctx context.Context) (aws.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.creds.HasKeys() && s.clock().Before(s.creds.Expires.Add(-s.window)) {
		return s.creds, nil
	}
	out, err := s.sts.AssumeRole(ctx, &s.in)
	if err != nil {
		return aws.Credentials{}, err
	}
	c := out.Credentials
	s.creds = aws.Credentials{
		AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken: aws.ToString(c.SessionToken), Source: "byok-awskms-assume-role",
		CanExpire: true, Expires: aws.ToTime(c.Expiration),
	}
	return s.creds, nil
}

// invalidate drops the credentials KMS refused: used, or whatever the
// session holds when used is empty. Credentials already replaced by a
// concurrent call are kept, so that one refusal costs one AssumeRole.
func (s *session) invalidate(used aws.Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if used.AccessKeyID == "" || used.AccessKeyID == s.creds.AccessKeyID {
		s.creds = aws.Credentials{}
	}
}

// assume returns the credentials of rc's role session, assuming the role if
// needed, so that an STS failure is reported as such; it returns none for
// the platform's own credentials.
func (rc *regionClient) assume(ctx context.Context, op string, arn ARN) (aws.Credentials, *kms.Error) {
	if rc.sess == nil {
		return aws.Credentials{}, nil
	}
	creds, err := rc.sess.Retrieve(ctx)
	if err != nil {
		return creds, kmsError(classify(err), op, arn, fmt.Errorf("assume role %s: %w", aws.ToString(rc.sess.in.RoleArn), err))
	}
	return creds, nil
}

// sessionName is the role session name for a tenant: prefix, "-", the
// tenant id in the characters STS allows. A name over STS's 64 characters is
// cut and ends with a hash of the whole tenant id, so that it still tells
// tenants apart.
func sessionName(prefix, tenant string) string {
	name := []byte(prefix + "-")
	for i := 0; i < len(tenant); i++ {
		name = append(name, sessionChar(tenant[i]))
	}
	if len(name) <= 64 {
		return string(name)
	}
	sum := sha256.Sum256([]byte(tenant))
	suffix := "-" + hex.EncodeToString(sum[:4])
	return string(name[:64-len(suffix)]) + suffix
}

// sessionChar maps a byte into STS's session name charset [\w+=,.@-].
func sessionChar(c byte) byte {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return c
	case c == '_' || c == '+' || c == '=' || c == ',' || c == '.' || c == '@' || c == '-':
		return c
	}
	return '-'
}
