package awskms

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/byok-dev/byok/kms"
)

// codeClasses maps the error codes of KMS and STS to classes. Each of the
// SDK's typed errors (*types.DisabledException, …) reports its code through
// smithy.APIError, so one table covers typed and generic errors alike.
var codeClasses = map[string]kms.Class{
	// KMS
	(&types.DisabledException{}).ErrorCode():             kms.Disabled,
	(&types.NotFoundException{}).ErrorCode():             kms.NotFound,
	(&types.InvalidCiphertextException{}).ErrorCode():    kms.InvalidCiphertext,
	(&types.IncorrectKeyException{}).ErrorCode():         kms.InvalidCiphertext,
	(&types.KMSInternalException{}).ErrorCode():          kms.Unavailable,
	(&types.DependencyTimeoutException{}).ErrorCode():    kms.Unavailable,
	(&types.KeyUnavailableException{}).ErrorCode():       kms.Unavailable,
	(&types.InvalidKeyUsageException{}).ErrorCode():      kms.Misconfigured,
	(&types.UnsupportedOperationException{}).ErrorCode(): kms.Misconfigured,
	(&types.InvalidArnException{}).ErrorCode():           kms.Misconfigured,
	(&types.InvalidGrantTokenException{}).ErrorCode():    kms.Misconfigured,
	(&types.LimitExceededException{}).ErrorCode():        kms.Throttled,
	"AccessDeniedException":                              kms.Denied,
	"ThrottlingException":                                kms.Throttled,
	"ServiceUnavailableException":                        kms.Unavailable,
	"ValidationException":                                kms.Misconfigured,
	"UnrecognizedClientException":                        kms.Misconfigured,
	"InvalidSignatureException":                          kms.Misconfigured,
	"MissingAuthenticationTokenException":                kms.Misconfigured,
	"IncompleteSignatureException":                       kms.Misconfigured,
	// A session refused even after the role was assumed again (see
	// attempt): a clock far off, for instance; worth retrying.
	"ExpiredTokenException": kms.Unavailable,
	// STS
	"AccessDenied":               kms.Denied,
	"RegionDisabledException":    kms.Misconfigured,
	"ValidationError":            kms.Misconfigured,
	"MalformedPolicyDocument":    kms.Misconfigured,
	"PackedPolicyTooLarge":       kms.Misconfigured,
	"InvalidClientTokenId":       kms.Misconfigured,
	"SignatureDoesNotMatch":      kms.Misconfigured,
	"Throttling":                 kms.Throttled,
	"ServiceUnavailable":         kms.Unavailable,
	"InternalFailure":            kms.Unavailable,
	"IDPCommunicationError":      kms.Unavailable,
	"ExpiredToken":               kms.Unavailable,
	"RequestLimitExceeded":       kms.Throttled,
	"TooManyRequestsException":   kms.Throttled,
	"RequestTimeout":             kms.Unavailable,
	"RequestTimeoutException":    kms.Unavailable,
	"InternalServerError":        kms.Unavailable,
	"ProvisionedThroughputError": kms.Throttled,
}

// classify maps an SDK error to a class. KMSInvalidStateException covers
// every key state that forbids the operation; KMS names the state in the
// message ("… is pending deletion."), which is read rather than paying a
// DescribeKey on every failure. Any other state (Creating, Updating,
// Unavailable in a disconnected custom key store, PendingImport) is treated
// as Unavailable: it passes without the customer revoking anything.
func classify(err error) kms.Class {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return kms.Unavailable
	}
	var invalidState *types.KMSInvalidStateException
	if errors.As(err, &invalidState) {
		return invalidStateClass(invalidState.ErrorMessage())
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return apiClass(ae.ErrorCode(), httpStatus(err))
	}
	return transportClass(err)
}

func invalidStateClass(msg string) kms.Class {
	m := strings.ToLower(msg)
	if strings.Contains(m, "pending deletion") || strings.Contains(m, "pendingdeletion") ||
		strings.Contains(m, "pending replica deletion") || strings.Contains(m, "pendingreplicadeletion") {
		return kms.PendingDeletion
	}
	return kms.Unavailable
}

// apiClass classifies an API error by code, and unknown codes by HTTP
// status: a server failure may pass, a client error will not.
func apiClass(code string, status int) kms.Class {
	if c, ok := codeClasses[code]; ok {
		return c
	}
	if status >= 500 || status == 0 {
		return kms.Unavailable
	}
	if status == 429 {
		return kms.Throttled
	}
	return kms.Misconfigured
}

// transportClass classifies errors that carry no API error: the request did
// not reach the service or no well-formed answer came back.
func transportClass(err error) kms.Class {
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &send) || errors.As(err, &netErr) {
		return kms.Unavailable
	}
	if status := httpStatus(err); status >= 400 && status < 500 {
		return kms.Misconfigured
	}
	return kms.Unavailable
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// requestID returns the AWS request id of a failed call, if a response came.
func requestID(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

// isCode reports whether err is an API error with code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// rejectedCredential lists the codes of AWS refusing a request's
// credentials themselves, as expired or as unknown, in KMS's and STS's
// spelling.
var rejectedCredential = []string{"ExpiredTokenException", "ExpiredToken", "UnrecognizedClientException", "InvalidClientTokenId"}

// isRejectedCredential reports whether err is AWS refusing the request's
// credentials themselves.
func isRejectedCredential(err error) bool {
	var ae smithy.APIError
	return err != nil && errors.As(err, &ae) && slices.Contains(rejectedCredential, ae.ErrorCode())
}

// kmsError builds the classified error of op on key in region.
func kmsError(class kms.Class, op string, key ARN, err error) *kms.Error {
	return &kms.Error{Class: class, Op: op, Key: key.String(), Region: key.Region, RequestID: requestID(err), Err: err}
}

// misconfigured is a kms.Error for a reference or setting that cannot work.
func misconfigured(op, key string, err error) *kms.Error {
	return &kms.Error{Class: kms.Misconfigured, Op: op, Key: key, Err: err}
}
