// Package platform holds what the platform knows before a customer brings a
// key: the platform configuration (hosting regions, the principals customers
// trust, the key policies the platform enforces), tenants' External IDs and
// the customer-supplied identifiers that must be checked before any AWS call.
//
// # Configuration
//
// [Config] is loaded from YAML by [Load] or [Parse] and then overridden by
// BYOK_… environment variables ([Config.ApplyEnv]); the format is documented
// in docs/configuration.md. [Config.Validate] reports every problem at once,
// each with its field path and the fix, as a [*ConfigError], so that an
// operator fixes a file in one pass rather than one restart per mistake.
//
// # External IDs
//
// Every tenant has its own External ID ([NewExternalID], [CheckExternalID]),
// the secret-less nonce that the customer's role trust policy requires in
// sts:ExternalId. It stops another customer of the platform from pointing the
// platform at a role that is not theirs (the confused-deputy problem).
//
// # Errors
//
// Bad input is an [*Error] carrying a stable [Code] (invalid_key_arn,
// unknown_region, field_too_long, ...) and the field it concerns, so that the
// HTTP layer and the CLI can print and branch on it.
package platform
