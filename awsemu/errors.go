package awsemu

import (
	"fmt"
	"net/http"
)

// apiError is an error in the shape AWS returns it: a code the SDK maps to a
// typed error, a message, and the HTTP status.
type apiError struct {
	Code    string
	Message string
	Status  int
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, a ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, a...), Status: status}
}

// KMS error helpers, named after the exception they produce.
func validationErr(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "ValidationException", format, a...)
}

func notFoundErr(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "NotFoundException", format, a...)
}

func invalidStateErr(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "KMSInvalidStateException", format, a...)
}

func unsupportedErr(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "UnsupportedOperationException", format, a...)
}

func keyUsageErr(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "InvalidKeyUsageException", format, a...)
}

func serializationErr(format string, a ...any) *apiError {
	return errf(http.StatusBadRequest, "SerializationException", format, a...)
}

var (
	errInvalidCiphertext = errf(http.StatusBadRequest, "InvalidCiphertextException", "")
	errIncorrectKey      = errf(http.StatusBadRequest, "IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
)

// Authentication errors differ between the JSON services and the Query
// services; each field is the code per protocol.
type authErr struct {
	kms, sts string
	status   int
	message  string
}

var (
	errMissingAuth = authErr{"MissingAuthenticationTokenException", "MissingAuthenticationToken", http.StatusBadRequest,
		"Request is missing Authentication Token"}
	errUnknownKey = authErr{"UnrecognizedClientException", "InvalidClientTokenId", http.StatusBadRequest,
		"The security token included in the request is invalid."}
	errBadSignature = authErr{"InvalidSignatureException", "SignatureDoesNotMatch", http.StatusBadRequest,
		"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."}
	errExpiredToken = authErr{"ExpiredTokenException", "ExpiredToken", http.StatusBadRequest,
		"The security token included in the request is expired"}
	errIncompleteSig = authErr{"IncompleteSignatureException", "IncompleteSignature", http.StatusBadRequest,
		"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}
)

func (a authErr) forService(service string) *apiError {
	if service == "sts" {
		return &apiError{Code: a.sts, Message: a.message, Status: http.StatusForbidden}
	}
	return &apiError{Code: a.kms, Message: a.message, Status: a.status}
}
