// Package onboarding generates what a customer's admin needs to bring a key,
// and checks, for real, what they built.
//
// # Artifacts
//
// A [Model] (from [NewModel]) describes one tenant in one hosting region:
// access pattern, platform principal, customer account, role, key and
// replica regions. Every artifact comes from it, so they cannot disagree:
// [Model.KeyPolicyStatements] to add to an existing key's policy,
// [Model.KeyPolicy] for a new key (the account root keeps kms:*, so the
// customer can always revoke the platform), [Model.TrustPolicy] and
// [Model.RolePolicy] for the assumed-role pattern, [Model.CloudFormation]
// and [Model.Terraform]. [Model.Artifacts] lists them as files.
//
// The platform asks for [UseActions] on the key, and for [AttachActions]
// only under kms:GrantIsForAWSResource, so that AWS services can attach
// persistent resources without the platform itself being able to delegate.
//
// # Access patterns
//
// Direct: the key policy names the platform's account root or role, which
// calls KMS with its own credentials. Assumed role: the customer's role
// trusts the platform principal only with the tenant's External ID
// (sts:ExternalId); the key policy names that role and the role's policy
// names the key and its replicas. Either grant suffices in AWS's evaluation
// (a same-account key policy naming the role; or the role's policy under the
// root statement's delegation), so a key whose policy lacks the root
// statement, and one that only keeps KMS's default policy, both work.
//
// # Validation
//
// [Validator.Validate] returns a [Report], one [Check] per check, each with
// a [Status], a stable code and the fix. It calls AWS with the platform's own
// access (aws-sdk-go-v2, one timeout per call): it assumes the role with the
// External ID and makes sure it cannot be assumed without it, then
// exercises each permission with the operation that needs it, naming the
// exact kms: action AWS refused. A check that cannot run because an earlier
// one failed is reported [Skipped] with the reason.
//
// Grants for AWS resources cannot be exercised: only AWS services can create
// them. The report says so (persistent_resource_grants, info).
package onboarding
