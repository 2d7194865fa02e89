package awskms

import (
	"context"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/byok-dev/byok/kms"
)

// observeRequests reports every request an SDK client makes to the observer
// in its context (kms.WithObserver), with the AWS request id, so an audit log
// lines up with the customer's CloudTrail call for call.
func observeRequests(service string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("byokObserve",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
				middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				rid, _ := awsmiddleware.GetRequestIDMetadata(md)
				if rid == "" {
					rid = requestID(err)
				}
				c := kms.Call{Service: service, API: awsmiddleware.GetOperationName(ctx),
					Region: awsmiddleware.GetRegion(ctx), RequestID: rid, Err: err}
				if err != nil {
					c.Class = classify(err)
				}
				kms.Observe(ctx, c)
				return out, md, err
			}), middleware.Before)
	}
}
