// Package awskms is the AWS KMS [kms.Provider]: it wraps tenant keys under a
// customer's KMS key, in the customer's account, through aws-sdk-go-v2.
//
// # Keys
//
// A [kms.KeyRef] names the key by its ARN ([ParseARN]): a key ARN, a
// multi-Region key ARN (key id mrk-…) or an alias ARN, in the aws, aws-cn or
// aws-us-gov partition. Bare key ids and alias names are refused, since
// another account's key is only reachable by ARN. KeyRef.Region defaults to
// the ARN's region; another region is allowed only for a multi-Region key,
// and names the replica to use. A wrapping records the key ARN (an alias
// resolved), so moving an alias later does not change which key unwraps it.
//
// The first use of a key asks DescribeKey for its spec, and for an RSA key
// GetPublicKey for its public half; both are cached for the provider's
// lifetime.
//
// # Access
//
// Without KeyRef.RoleARN the platform's own credentials ([Config].AWS, the
// default chain in production) call the key directly: the customer's key
// policy names the platform's account. With a RoleARN the provider calls
// sts:AssumeRole with KeyRef.ExternalID, in a session named
// RoleSessionPrefix-tenant so that the customer's CloudTrail names the
// tenant. Session credentials are cached per role, external id, region and
// session name, and replaced [Config].RefreshWindow before they expire, by
// [Config].Clock. A role that cannot be assumed (wrong or missing external
// id, trust policy) is class Denied.
//
// SDK clients are cached per region and access; [Config].Endpoint and the
// base configuration's BaseEndpoint point them at VPC endpoints or an
// emulator.
//
// # Symmetric keys
//
// GenerateAndWrap is GenerateDataKey (AES_256), Wrap is Encrypt, Unwrap is
// Decrypt, each with the identity as encryption context
// ([kms.Identity.EncryptionContext]): KMS itself refuses a wrapping moved to
// another tenant, version or purpose. Rewrap is one ReEncrypt when both keys
// are symmetric, share a region and are reached with the same credentials;
// otherwise (another region or role, an RSA key) it is Decrypt with the
// source's credentials then a wrap with the destination's, as a single
// ReEncrypt request is signed by one principal in one region.
//
// kms:ReEncrypt* is optional. When KMS denies the ReEncrypt (a key policy
// granting only kms:Encrypt, kms:Decrypt, kms:GenerateDataKey* and
// kms:DescribeKey), Rewrap falls back to Decrypt then Encrypt inside the
// platform, with the identity as encryption context on both, so the new
// wrapping is bound exactly as a ReEncrypt would have bound it. The cost is
// two KMS calls per wrapping instead of one, and the tenant key passing
// through the platform's memory on the way. The denial is remembered for
// the pair of keys for an hour, so a rewrap of many versions makes one
// denied call, not one per version. The fallback lives here, not in the
// keyring, because only this provider knows that ReEncrypt exists and why
// it failed; a key that denies Decrypt as well (a revoked key) still fails
// as Denied.
//
// # RSA keys
//
// For an RSA_2048, RSA_3072 or RSA_4096 encryption key, Wrap and
// GenerateAndWrap encrypt locally with RSA-OAEP-SHA-256 under the cached
// public key: wrapping makes no KMS call. Unwrap is Decrypt with
// RSAES_OAEP_SHA_256. The platform therefore needs kms:GetPublicKey on RSA
// keys besides the usual grants. Revoking an RSA key stops unwraps, not
// wraps: anyone holding a public key can encrypt under it.
//
// RSA encryption takes no encryption context, so kms.Wrapped.IdentityTag
// binds the wrapping to its tenant, version and purpose, the key ARN and the
// algorithm: HMAC-SHA-256 over a length-prefixed encoding of them and the
// ciphertext. Unwrap checks it before calling KMS, so a forged or moved
// wrapping fails as InvalidCiphertext and costs no KMS call. The tag is keyed
// with a platform secret ([Config].IntegrityKey) because an unkeyed digest
// proves nothing here: the public key is public, so anyone able to write to
// the store could encrypt a tenant key of their own choosing, compute its
// digest and have the platform seal the tenant's data under a key they know.
// With the keyed tag only the platform can produce a wrapping it accepts.
//
// The tag is also all that binds an RSA key's use to a tenant. For a
// symmetric key the customer's key policy requires the tenant's context
// (kms:EncryptionContext:byok:tenant, in the generated policies), so KMS
// itself refuses the platform's calls for any other tenant; with no context
// on an RSA key, its policy cannot say which tenant a Decrypt is for, and
// only the platform's own checks keep it from using one customer's RSA key
// for another tenant (docs/configuration.md).
//
// # Regions and failover
//
// A call goes to the key's region first and, on Unavailable or Throttled, to
// KeyRef.FailoverRegions in order: the same multi-Region key id with the
// region swapped in the ARN. Each region has a circuit breaker
// ([BreakerPolicy]): after Failures consecutive transient failures it opens
// and the region is skipped; after Cooldown one call tries it again. Only
// KMS's answers count: an attempt whose sts:AssumeRole failed never asked
// KMS, so it leaves the breaker as it was, and a role's STS outage neither
// refuses the region's other tenants nor outlasts STS's recovery (the first
// call after it assumes the role and succeeds). A symmetric multi-Region
// ciphertext decrypts in any replica's region.
//
// # Retries and deadlines
//
// Every call is bounded by [Config].CallTimeout, and each request to one
// region by [Config].AttemptTimeout, so a hanging region is a transient
// failure that fails over while time is left. Transient failures are
// retried ([RetryPolicy]) with capped exponential backoff and full jitter,
// never sleeping past the deadline. The SDK's own retryer is off, so
// attempts are not multiplied: one attempt is one HTTP request per region
// tried.
//
// # Errors
//
// Failures are [*kms.Error] values carrying the class, the key ARN, the
// region and the AWS request id that the customer sees in CloudTrail.
// KMS and STS error codes map to classes: DisabledException to Disabled,
// NotFoundException to NotFound, AccessDeniedException and STS AccessDenied
// to Denied, InvalidCiphertextException and IncorrectKeyException to
// InvalidCiphertext, throttling to Throttled, internal errors, timeouts,
// 5xx and network failures to Unavailable, and invalid usage, spec or
// credentials to Misconfigured. KMSInvalidStateException covers several key
// states; the state named in its message decides: pending deletion (or
// pending replica deletion) is PendingDeletion, anything else (a key being
// created or updated, a disconnected custom key store) Unavailable. This
// avoids a DescribeKey on each failure.
package awskms
