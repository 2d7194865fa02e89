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
// The platform asks for [CryptoActions] and [ReadActions] on the key, and for [AttachActions]
// only under kms:GrantIsForAWSResource, so that AWS services can attach
// persistent resources without the platform itself being able to delegate.
//
// # Tenant condition
//
// The [CryptoActions] are granted in their own statement under
// [TenantCondition]: on a symmetric key, only with the tenant's id as the
// encryption context pair byok:tenant, which the platform sends on every
// call. So the key serves the tenant it was onboarded for and no other, even
// if another tenant attaches its ARN (a confused deputy). The [ReadActions]
// carry no encryption context and are granted without it. An RSA key takes
// no encryption context, so its statements have no condition; the platform
// binds RSA wrappings to their tenant with a keyed tag instead. A key shared
// by several tenants of one customer lists each ([Policy.ForTenants]).
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
// The role may be in another account of the customer's than the key
// (Request.RoleAccount, [Model.CrossAccount]). AWS then needs both grants:
// the key policy of the key's account names the role (or its account root,
// delegating to that account's IAM policies), and the role's own policy
// names the key. The key policies, cloudformation.yaml and main.tf are then
// the key account's; the trust and role policies, [RoleAccountCloudFormation]
// and [RoleAccountTerraform] the role account's, deployed first, as KMS
// refuses a key policy naming a role that does not exist. Several
// attachments of one tenant share its External ID, whatever their accounts.
//
// # Validation
//
// [Validator.Validate] returns a [Report], one [Check] per check, each with
// a [Status], a stable code and the fix. It calls AWS with the platform's own
// access (aws-sdk-go-v2, one timeout per call): it assumes the role with the
// External ID and makes sure it cannot be assumed without it, then
// exercises each permission with the operation that needs it, naming the
// exact kms: action AWS refused and, from AWS's reason, the policy that
// lacks it ([Check.Policy]: the key policy of the key's account, or the
// role's own in the role's account) with the statement to add. A check that
// cannot run because an earlier one failed is reported [Skipped] with the
// reason.
//
// The tenant condition is proven too (tenant_condition): each cryptographic call
// that worked for the tenant is repeated with another tenant's context, and
// must be denied. When it is not, the report warns (tenant_condition_missing)
// rather than fails, so that keys whose policies predate the condition keep
// working, and says which condition to add.
//
// # Required and optional permissions
//
// Only what the key's spec needs is required: kms:DescribeKey and
// kms:Decrypt, plus kms:Encrypt and kms:GenerateDataKey* on a symmetric key
// (wrapping, new key versions) or kms:GetPublicKey on an RSA key, under
// which the platform wraps locally; the validation then encrypts its test
// value locally too, so kms:Encrypt is not exercised there ([CodeNotNeeded]).
// Vendors' minimal permission sets pass. kms:ReEncrypt* is optional:
// when it is denied the report warns ([CodeOptionalPermissionMissing]) and
// says what doing without costs, as kms/awskms then rewraps with kms:Decrypt
// and kms:Encrypt inside the platform; it is not exercised on an RSA key,
// which the platform never re-encrypts ([CodeNotNeeded]).
// kms:GetKeyRotationStatus only feeds the rotation status (info).
//
// Grants for AWS resources cannot be exercised: only AWS services can create
// them. The report says so (persistent_resource_grants, info).
package onboarding
