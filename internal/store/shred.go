package store

// Errors of the shred layer (internal/shred), under which the SQL stores
// keep every wrapping: its per-tenant key lives outside the database.
var (
	// ErrShredded means the tenant's shred key was destroyed by
	// offboarding: its sealed wrappings never open again.
	ErrShredded = &Error{"tenant_shredded", "the tenant was offboarded: its shred key is destroyed"}
	// ErrShredKeyMissing means a sealed wrapping's shred key is neither in
	// the keystore nor destroyed there: the keystore is not the one the
	// database was written with, or lost a file.
	ErrShredKeyMissing = &Error{"shred_key_missing", "the tenant's shred key is missing from the shred keystore"}
)

// Shredded returns an error matching ErrShredded.
func Shredded(format string, args ...any) error {
	return newErr([]error{ErrShredded}, format, args...)
}

// ShredKeyMissing returns an error matching ErrShredKeyMissing.
func ShredKeyMissing(format string, args ...any) error {
	return newErr([]error{ErrShredKeyMissing}, format, args...)
}
