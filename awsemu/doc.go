// Package awsemu is an AWS KMS and STS emulator that speaks the real wire
// protocols, so that the official aws-sdk-go-v2 clients can be tested against
// it over HTTP with no hand-written fakes.
//
// # Protocols
//
// KMS is served with the JSON 1.1 protocol (POST /, X-Amz-Target:
// TrentService.<Operation>), STS with the Query protocol and XML responses.
// Every request must carry a valid Signature Version 4; the region and service
// come from its credential scope, so one [Server] serves every configured
// region. Errors have AWS's codes and shapes, so the SDK returns its typed
// errors (for example *types.DisabledException).
//
// # World
//
// A [World] lists regions, accounts, IAM users with access keys, IAM roles
// with trust and inline identity policies, and keys with aliases. It is read
// from YAML with [LoadWorld] or built in Go. Keys, aliases, grants, tags and
// assumed-role sessions are then created through the AWS APIs.
//
// # Authorization
//
// Key policies, identity policies, trust policies and grants are evaluated as
// AWS does: an explicit Deny wins; a key policy naming a same-account
// principal is enough; a key policy naming the account delegates to the
// account's identity policies; another account needs both the key policy and
// its own identity policy; a grant is enough on its own.
//
// # Test controls
//
// Outside the AWS protocols, the Go API and the HTTP routes under
// [AdminPrefix] advance the emulator clock ([Server.Advance]), inject faults
// ([Server.SetFaults]) and read a CloudTrail-like log ([Server.Events]).
// [Server.SetStateFile] persists the state across restarts.
//
// # Tests
//
// [NewTestServer] starts an emulator on a loopback port for one test and
// gives the SDK configuration for a user ([TestServer.Config]).
//
// See docs/awsemu.md for the world file format and the known differences from
// AWS.
package awsemu
