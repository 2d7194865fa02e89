package errcode

import "net/http"

func refused(code string, status int, meaning, hint string) Entry {
	return Entry{Code: code, Status: status, Exit: ExitRefused, Meaning: meaning, Hint: hint}
}

// unopened is a code of data that does not open: the CLI exits with
// ExitDecrypt, as it does for a local file that does not open.
func unopened(code, meaning, hint string) Entry {
	return Entry{Code: code, Status: http.StatusBadRequest, Exit: ExitDecrypt, Meaning: meaning, Hint: hint}
}

const (
	retry     = "retry later; the answer's Retry-After says when"
	ctxHint   = "pass exactly the -c pairs the data was encrypted with"
	fixInput  = "correct the field the message names and send the request again"
	keyIsBack = "data operations resume once the customer's key is usable again: ask the customer to check it in their KMS"
)

// entries is the registry, grouped by status. Meanings of envelope and KMS
// codes are also the API's messages for them, which say no more than the
// code so that a decryption failure cannot serve as an oracle.
var entries = []Entry{
	// 400: the request is malformed or names something invalid.
	refused("invalid_request", http.StatusBadRequest, "the request is malformed: bad JSON, unknown fields, or a body where none is taken", "send the request as docs/api.md describes it"),
	refused("invalid_argument", http.StatusBadRequest, "an argument is malformed or out of range", fixInput),
	refused("invalid_context", http.StatusBadRequest, "the encryption context is invalid", "give at most 64 key=value pairs, 8192 bytes encoded, with non-empty keys"),
	refused("invalid_format", http.StatusBadRequest, "the artifact format is not one the server makes", "choose one of bundle, key-policy, key-policy-statements, trust-policy, role-policy, cloudformation, terraform"),
	refused("invalid_options", http.StatusBadRequest, "the record or stream options are out of range", fixInput),
	refused("invalid_key", http.StatusBadRequest, "a tenant key, tenant id or key version is malformed, or the key was destroyed", ""),
	refused("invalid_config", http.StatusBadRequest, "the configuration is invalid", "fix each problem the message lists (docs/configuration.md)"),
	refused("invalid_key_arn", http.StatusBadRequest, "the key ARN is not a KMS key ARN the platform accepts", "give the key's full ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY_ID"),
	refused("invalid_role_arn", http.StatusBadRequest, "the role ARN is not an IAM role ARN", "give the role's full ARN: arn:aws:iam::ACCOUNT:role/NAME"),
	refused("invalid_account_id", http.StatusBadRequest, "the AWS account id is not 12 digits", fixInput),
	refused("invalid_external_id", http.StatusBadRequest, "the external id is malformed", "leave it out to have one generated, or give 8 to 128 characters of A-Z a-z 0-9 + = , . @ : / -"),
	refused("invalid_tenant_id", http.StatusBadRequest, "the tenant id is malformed", "a tenant id is 1 to 128 characters of A-Z a-z 0-9 . _ : -"),
	refused("invalid_key_spec", http.StatusBadRequest, "the key's spec or usage is not one the platform can use", "use a symmetric ENCRYPT_DECRYPT key, or an RSA key where the platform allows it"),
	refused("invalid_access_pattern", http.StatusBadRequest, "the access pattern is not one the platform offers", fixInput),
	refused("invalid_token", http.StatusBadRequest, "a token in the request is malformed", fixInput),
	refused("unknown_region", http.StatusBadRequest, "the region is not one the platform serves", "use a region of the platform's configuration"),
	refused("field_too_long", http.StatusBadRequest, "a field is longer than the platform accepts", fixInput),
	refused("missing_field", http.StatusBadRequest, "a required field is missing", fixInput),
	refused("alias_arn_rejected", http.StatusBadRequest, "the platform requires a key ARN, not an alias ARN", "hand over the key's ARN: arn:aws:kms:REGION:ACCOUNT:key/KEY_ID"),
	refused("region_key_required", http.StatusBadRequest, "the tenant's key has no counterpart in the new region", "name the key to use in that region"),
	refused("receipt_invalid", http.StatusBadRequest, "the deletion receipt is malformed or its signature does not verify", "pass the receipt exactly as the offboarding returned it"),
	refused("invalid_webhook_url", http.StatusBadRequest, "the webhook URL is not one the server delivers to", "give an absolute https:// URL of a public host, without user:password@ or #fragment"),
	refused("invalid_webhook_id", http.StatusBadRequest, "the webhook name is malformed", "a name is 1 to 64 characters of a-z 0-9 _ -"),
	refused("invalid_signature", http.StatusBadRequest, "the webhook signature does not verify", "check the receiver's signing secret"),
	refused("signature_expired", http.StatusBadRequest, "the webhook signature's timestamp is outside the replay window", "check the receiver's clock"),
	unopened("invalid_ciphertext", "the ciphertext is invalid, was altered, or the encryption context does not match", "pass exactly the -c pairs the data was encrypted with, and the same tenant"),
	unopened("context_mismatch", "the encryption context does not match the one the data was sealed with", ctxHint),
	unopened("wrong_tenant", "the ciphertext belongs to another tenant", "decrypt it for the tenant it was encrypted for"),
	unopened("unsupported_version", "the ciphertext's format version is not supported", "the data was written by a newer release of byok; decrypt it with that release"),
	unopened("key_version_unknown", "the ciphertext names a key version the tenant does not have", "decrypt it for the tenant it was encrypted for; the data may be damaged, or from another installation"),
	unopened("truncated_stream", "the stream was truncated", "the input ends early: it was cut short, or the encryption that wrote it did not finish"),

	refused("unauthenticated", http.StatusUnauthorized, "the API token is missing, malformed, unknown, expired or revoked", "the token is missing, expired or revoked: set BYOK_TOKEN to a valid token"),
	refused("forbidden", http.StatusForbidden, "the token's role or tenant scope does not allow this", "the token's role or tenant scope does not allow this; ask an owner for a token that does"),

	refused("tenant_not_found", http.StatusNotFound, "the tenant does not exist", "run 'byok tenant list' for the tenants there are"),
	refused("not_found", http.StatusNotFound, "what the request names does not exist", "list what there is (e.g. 'byok token list') and use one of its ids"),
	refused("artifact_not_found", http.StatusNotFound, "the artifact does not exist for the access pattern, or not before the customer has a key", "run 'byok key artifacts' for the formats there are"),
	refused("route_not_found", http.StatusNotFound, "no such route", "see /v1/openapi.json for the routes"),
	refused("webhook_not_found", http.StatusNotFound, "the webhook does not exist", "run 'byok webhook list' (with --tenant for a tenant's) for the webhooks there are, and name a tenant's webhook with --tenant"),
	refused("vault_not_found", http.StatusNotFound, "the vault does not exist", ""),

	refused("method_not_allowed", http.StatusMethodNotAllowed, "the path does not serve this method", "see /v1/openapi.json for the routes"),

	refused("request_timeout", http.StatusRequestTimeout, "the request body did not arrive in time: it stalled, or a stream's body arrived slower than the server's minimum rate", "send the body at once after the headers; for slow sources, buffer before sending"),

	refused("conflict", http.StatusConflict, "the change is based on a revision that is no longer current, or collides with another change", "it changed since it was read (another caller at the same time); look at it again and retry"),
	refused("tenant_exists", http.StatusConflict, "a tenant with this id already exists", "choose another id, or run 'byok tenant show ID' for the existing tenant"),
	refused("external_id_in_use", http.StatusConflict, "another tenant already has this external id", "leave out the external id to have one generated, or give another"),
	refused("already_enabled", http.StatusConflict, "the tenant's key is already enabled", "to use another key, change the key ('byok key change')"),
	refused("key_binding_immutable", http.StatusConflict, "the platform does not allow changing an enabled tenant's key", "the platform's configuration (policy.key_binding: immutable) forbids changing an enabled tenant's key"),
	refused("key_change_required", http.StatusConflict, "the tenant is enabled: replacing its key is a key change", "run 'byok key change', which rewraps every key version"),
	refused("key_change_in_progress", http.StatusConflict, "another key change of the tenant is running", "finish it first: run the key change with the same key again"),
	refused("same_key", http.StatusConflict, "the new key is the one already bound", "give the ARN of the new key"),
	refused("key_in_use", http.StatusConflict, "a key to be retired still wraps some of the tenant's key versions", "finish the key change first, then retire the old key"),
	refused("no_key_attached", http.StatusConflict, "the tenant has no customer key attached", "attach a key first: byok key attach TENANT REGION KEY_ARN"),
	refused("no_key_version", http.StatusConflict, "the tenant has no key version yet", "attach, validate and enable the tenant's key first"),
	refused("region_exists", http.StatusConflict, "the region already serves the tenant", ""),
	refused("region_not_ready", http.StatusConflict, "the region does not serve the tenant yet: its keys are not wrapped there", "add the region to the tenant first"),
	refused("vault_exists", http.StatusConflict, "a vault with this name already exists", "choose another name"),
	refused("tenant_not_active", http.StatusConflict, "the tenant is not enabled yet", "attach, validate and enable its key first"),
	refused("invalid_state", http.StatusConflict, "the tenant's state does not allow the operation", "run 'byok status TENANT' for its state"),
	refused("webhook_exists", http.StatusConflict, "a webhook with this name already exists", "webhook names are unique per tenant (and among the platform-wide ones): choose another, or remove the existing one"),
	refused("tenant_not_archived", http.StatusConflict, "the tenant is not archived, so there is nothing to restore", "run 'byok status TENANT' for its state"),

	refused("tenant_shredded", http.StatusGone, "the tenant was offboarded; its data can never be opened again", ""),
	refused("key_destroyed", http.StatusGone, "the tenant's key was deleted; its data can never be opened again", ""),
	refused("restore_window_expired", http.StatusGone, "the archived tenant's restore window has passed", ""),

	refused("body_too_large", http.StatusRequestEntityTooLarge, "the request body is larger than this route allows", "send less per request: split a batch, or use a stream"),
	refused("batch_too_large", http.StatusRequestEntityTooLarge, "the batch holds more records than the server allows", "split the batch"),
	refused("record_too_large", http.StatusRequestEntityTooLarge, "the record is larger than the record format allows", "use a stream (leave out --record)"),
	refused("unsupported_media_type", http.StatusUnsupportedMediaType, "the request body's Content-Type is not one this route takes", "send JSON bodies as application/json, and stream bodies as application/octet-stream"),

	refused("validation_failed", http.StatusUnprocessableEntity, "the customer's key failed validation; details holds the reports", "fix what the failed checks say, then run 'byok key validate' again"),

	refused("key_unavailable", http.StatusLocked, "the tenant's key is unavailable (disabled, denied or deleted)", keyIsBack),
	refused("tenant_suspended", http.StatusLocked, "the tenant is suspended: its key has been unavailable for too long", keyIsBack),
	refused("key_access_denied", http.StatusLocked, "the platform is not allowed to use the tenant's key (key policy, grant or role)", "the customer must restore the platform's access in the key policy, grant or role"),
	refused("key_disabled", http.StatusLocked, "the tenant's key is disabled", "the customer's key is disabled in their KMS; they must enable it again"),
	refused("key_pending_deletion", http.StatusLocked, "the tenant's key is scheduled for deletion", "the customer must cancel the key's deletion and enable it again"),
	refused("key_not_found", http.StatusLocked, "the tenant's key does not exist", "the customer's key is gone from their KMS; check the key ARN with the customer"),
	refused("wrapped_key_invalid", http.StatusLocked, "a wrapped tenant key does not open under its key", "the customer's key is not the one the tenant's keys were wrapped under"),

	refused("key_misconfigured", http.StatusFailedDependency, "the tenant's key cannot be used as configured", "run 'byok key validate TENANT' for what is wrong"),

	refused("kms_throttled", http.StatusTooManyRequests, "the key service is throttling calls for this tenant; retry later", retry),

	refused("internal", http.StatusInternalServerError, "the server failed unexpectedly", "the server's log has the cause under the request id"),
	refused("receipt_key_missing", http.StatusInternalServerError, "the server has no platform root key to sign deletion receipts with", "set root_key_file in the server's configuration"),
	refused("shred_key_missing", http.StatusInternalServerError, "a tenant's wrappings are sealed under a shred key the server's shred keystore does not hold", "point shred.keystore in byok.yaml at the keystore the database was written with, or restore the keystore from its backup"),
	refused("store_corrupt", http.StatusInternalServerError, "a stored record cannot be read: damaged, or written by a newer release", "run the release that wrote the database, or restore it from a backup; the message names the record"),

	refused("not_implemented", http.StatusNotImplemented, "this server was built without what the route needs (tokens, audit log, webhooks)", ""),

	refused("kms_unreachable", http.StatusServiceUnavailable, "the key service cannot be reached; retry later", retry),
	refused("unavailable", http.StatusServiceUnavailable, "the server cannot serve the request now (database unreachable, request canceled)", "retry later"),

	refused("timeout", http.StatusGatewayTimeout, "the request took longer than this route allows", "retry; for large data use a stream"),
}
