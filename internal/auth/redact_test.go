package auth

// Redact returns what a test may print of a bearer string: the prefix and
// the id of a well-formed token, or a fixed placeholder for anything else.
func Redact(bearer string) string {
	t, err := parseToken(bearer)
	if err != nil {
		return "[redacted]"
	}
	return t.redacted()
}
