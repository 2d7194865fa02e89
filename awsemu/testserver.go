package awsemu

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestServer is an emulator on a loopback httptest server, closed when the
// test ends.
type TestServer struct {
	*Server
	// URL is the endpoint for every region, e.g. http://127.0.0.1:41234.
	URL   string
	world *World
}

// NewTestServer starts an emulator holding world on a loopback port.
// Configuration errors fail the test.
func NewTestServer(t testing.TB, world *World) *TestServer {
	t.Helper()
	s, err := New(world)
	if err != nil {
		t.Fatalf("awsemu.NewTestServer: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &TestServer{Server: s, URL: hs.URL, world: world}
}

// Credentials returns the long-term credentials of a user of the world. It
// fails the test when there is no such user.
func (ts *TestServer) Credentials(t testing.TB, accountID, userName string) aws.Credentials {
	t.Helper()
	for _, a := range ts.world.Accounts {
		for _, u := range a.Users {
			if a.ID == accountID && u.Name == userName {
				return aws.Credentials{AccessKeyID: u.AccessKeyID, SecretAccessKey: u.SecretAccessKey, Source: "awsemu"}
			}
		}
	}
	t.Fatalf("awsemu: no user %s in account %s", userName, accountID)
	return aws.Credentials{}
}

// Config returns an SDK configuration for region signed with creds: pass it to
// kms.NewFromConfig or sts.NewFromConfig. Retries are off so that injected
// faults reach the test unchanged.
func (ts *TestServer) Config(region string, creds aws.Credentials) aws.Config {
	return aws.Config{
		Region:           region,
		BaseEndpoint:     aws.String(ts.URL),
		Credentials:      aws.NewCredentialsCache(staticCredentials(creds)),
		RetryMaxAttempts: 1,
	}
}

type staticCredentials aws.Credentials

func (c staticCredentials) Retrieve(_ context.Context) (aws.Credentials, error) {
	return aws.Credentials(c), nil
}
