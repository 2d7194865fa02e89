// Package envelope implements byok's ciphertext formats: records for values up
// to [MaxRecordSize] and segmented streams for data of any size. It is pure: no
// I/O beyond the readers and writers it is given, no KMS. docs/FORMAT.md is the
// byte-exact specification and the security argument.
//
// # Keys
//
// A [TenantKey] is one version of a tenant's 256-bit key. Ciphertexts are not
// made with it directly: each process derives a data key from it and a random
// 256-bit salt (HKDF-SHA-256), seals up to [DataKeyMessageLimit] records with
// that data key, then derives another. The salt travels in each header, so
// nonce safety needs no coordination between processes however many records a
// tenant key version protects. The same derivation yields a key commitment,
// checked before decryption, so a ciphertext opens under one key only.
//
// Each key belongs to a key scope: a tenant's own scope, named by the tenant
// id, or one of its other vaults, named tenant/vault ([ScopeID]). Headers name
// the scope and the derivation binds it, so a vault's data never opens under
// another vault's key, even within one tenant.
//
// # Records
//
// [Seal] and [Open] (and the allocation-free [AppendSeal] and [AppendOpen])
// protect one value. The header (format version, algorithm, key scope,
// key version, salt, commitment, nonce) and the caller's encryption [Context] are
// authenticated; the context is stored in the header only when asked for.
//
// # Streams
//
// [NewWriter] seals a stream of 64 KiB segments (configurable), each with its
// own AES-GCM tag and with its index and a final flag in its nonce; [NewReader]
// opens it sequentially and [NewReaderAt] decrypts only the segments a read
// touches. Truncation, reordering, duplication, dropped segments, appended data
// and headers swapped between streams are all detected. [StreamOptions.Workers]
// spreads sealing and opening over several cores.
//
// # Errors
//
// Failures carry stable codes ([Code]): invalid_ciphertext, unsupported_version,
// context_mismatch, wrong_tenant, key_version_unknown, truncated_stream, and
// for bad arguments invalid_context, invalid_key, record_too_large and
// invalid_options. Where a reason could serve an attacker as an oracle, the
// error says only invalid_ciphertext; [OpenError.Detail] keeps the reason for
// the operator's log.
package envelope
