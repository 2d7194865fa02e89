// Package audit records every control-plane action, every KMS call and the
// data plane (aggregated per tenant per minute) in hash-chained logs, which
// [Log.Verify] checks and [Log.Export] writes as JSON lines a customer can
// line up with CloudTrail. docs/audit.md is the full description.
//
// # Events
//
// An [Event] says who (Actor) did what (Action) to which tenant and key,
// with the KMS request id and the outcome. [Log] is the [Sink] that stores
// them; [Provider] wraps a kms.Provider so that every KMS call is recorded.
//
// # Chains
//
// Each tenant has its own chain ([ChainOf]), and events without a tenant go
// to [PlatformChain]. Row n of a chain stores the canonical JSON encoding of
// its event, the previous row's hash and
//
//	hash = HMAC-SHA-256(K, "byok-audit-row-v1", chain, n, prev, event)
//
// with every variable part length-prefixed and K the [Key] derived from
// the platform root key ([DeriveKey]). Keying the hash means an attacker
// with write access to the database cannot recompute the chain after
// changing it. Appends are serialized per chain by the store, so instances
// sharing a database never fork a chain.
//
// # Checkpoints
//
// Each chain's head (last seq and hash) is kept in a second table with its
// own MAC. Deleting rows from the tail then also needs a checkpoint MAC the
// attacker cannot compute; [Log.Verify] reports it as [Truncated]. What is
// not detectable: deleting a whole chain with its checkpoint, and rolling a
// chain back to an older checkpoint whose record the attacker kept from
// earlier. Keeping [VerifyResult]'s Rows and HeadHash (or the last exported
// line) outside the database closes that gap.
//
// # Data plane
//
// Events whose action starts with "data." are counted in memory per
// (tenant, action, outcome, actor, key, minute) and written as one row per
// bucket, with Count, once the minute has closed ([Log.Run]); [Log.Flush]
// writes the rest at shutdown. Control-plane and KMS events are written
// before Record returns.
package audit
