// Package monitor watches every tenant's customer key and keeps the tenant's
// lifecycle state in step with it: it probes the keys, applies the tenant
// state machine, keeps a health history, and tells subscribers through
// signed webhooks.
//
// # Probes
//
// A [Monitor] probes each tenant in the active, key_unavailable, suspended
// and deletion_pending states (archived tenants excepted) every
// [Config.Interval] plus up to [Config.Jitter], with keyring.Keyring.Probe:
// an unwrap of the newest tenant key version that bypasses the cache. A
// tenant's first probe falls at a point of the interval fixed by its id, so
// probes spread over the interval and a restart does not probe everyone at
// once. A token bucket ([Config.Rate], [Config.Burst]) bounds probes per
// second across all tenants; a probe without a token waits for a later
// pass. [Monitor.Run] looks for due probes every [Config.Tick] and never
// waits for a probe or a webhook receiver.
//
// # States
//
// A definitive failure (disabled, access denied, not found) moves an active
// tenant to key_unavailable; the probe has already evicted its cached keys,
// so data operations fail with the key's code from then on. After
// [Config.SuspendAfter] of outage the tenant is suspended and
// [Monitor.Halted] tells the service to stop its background work. A passing
// probe makes it active again. A key scheduled for deletion moves the tenant
// to deletion_pending with the date (from Describe) and warnings at each
// [Config.DeletionWarnings] threshold; once the key is gone the tenant is
// destroyed. Throttling, timeouts and unreachable regions change nothing:
// the probe is recorded as degraded and cached keys keep serving.
//
// Every change is a compare-and-swap on the tenant's revision
// (Store.UpdateTenant), retried on conflict after rereading and
// deciding again, so instances probing at once neither corrupt the state
// nor announce a change twice. The monitor's own bookkeeping (when the
// outage began, the deletion date, warnings sent, archival) is the
// tenant's Outage (package internal/tenant), changed in the same write.
//
// # Regions
//
// With [Config.Region] set, an instance probes only the tenants that region
// serves, through their wrappings there (keyring.Keyring.ProbeRegion), so
// it never judges a key it reaches with another region's platform account.
// What it sees becomes the region's health (tenant.Region.Health: active,
// key_unavailable, deletion_pending or destroyed), and the tenant's state
// follows its probed regions together: active while any region's key
// serves, key_unavailable once none does, deletion_pending or destroyed
// once every one is scheduled for deletion or gone. A region nobody probed
// does not count. A region's own change is announced as
// [EventRegionStateChanged]; every event of a regional probe names its
// region.
//
// # Archive and restore
//
// A tenant still suspended [Config.ArchiveAfter] after its outage began is
// archived: it stays suspended, is no longer probed (the customer's
// CloudTrail stops seeing the platform's calls), and comes back only through
// [Monitor.Restore], which probes the key and reactivates the tenant if it
// passes, within [Config.RestoreWindow] of archiving. After the window
// Restore refuses with [ErrRestoreExpired]; the tenant's data is kept until
// the platform offboards it.
//
// # Revocation bound
//
// A revocation is honoured within [RevocationBound]: Interval + Jitter +
// Tick + ProbeTimeout, 46 s with the defaults, whatever the keyring's cache
// TTL, as long as the probe rate keeps up with the tenants and KMS answers.
// docs/operations.md explains the trade-offs.
//
// # Health history
//
// Each probe outcome (ok, degraded, unavailable, error) with its class code,
// key, tenant key version and KMS request id goes to the store's health
// history when it differs from the tenant's previous outcome, and otherwise
// once per [Config.HealthHeartbeat]; history older than [Config.Retention]
// is pruned hourly. [Monitor.Status] and [Monitor.Health] read it.
//
// # Webhooks
//
// [Webhooks] is a [Notifier] that delivers each [Event] as JSON to the
// tenant's subscriptions and the platform-wide ones, signed with
// HMAC-SHA256 over "timestamp.body" ([SignatureHeader], [Sign], [Verify]),
// retried with exponential backoff and jitter up to
// [WebhookConfig.MaxAttempts], each attempt recorded. Events go to a
// durable outbox in the store: the monitor writes them in the transaction
// that stores the state change raising them ([OutboxNotifier]), and
// [Webhooks.Run] delivers from there, at least once, across restarts and
// instances (a claimed row is leased to one instance at a time).
//
// # Leading
//
// [Config.Leader] is asked before each pass; with several instances it can
// let one lead. Until revocations are broadcast between instances, run a
// monitor on every instance: its probe evicts only its own keyring's cache.
//
// # Errors
//
// Errors for bad input carry stable codes ([Code]): invalid_config,
// invalid_webhook_url, invalid_webhook_id, webhook_exists,
// webhook_not_found, tenant_not_found, tenant_not_archived,
// restore_window_expired, key_unavailable, region_not_ready,
// invalid_signature, signature_expired.
package monitor
