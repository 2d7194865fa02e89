package awsemu_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/byok-dev/byok/awsemu"
)

func TestFaults(t *testing.T) {
	e := newEnv(t)
	eu, us := e.admin(t, euWest1), e.admin(t, usEast1)
	blob := encrypt(t, e, eu, tenantKey, nil)
	decrypt := func(c *kms.Client) error {
		_, err := c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob})
		return err
	}
	set := func(f ...awsemu.Fault) {
		t.Helper()
		if err := e.ts.SetFaults(f); err != nil {
			t.Fatal(err)
		}
	}

	set(awsemu.Fault{Kind: awsemu.FaultThrottle, Region: euWest1, Operation: "Decrypt"})
	wantCode(t, decrypt(eu), "ThrottlingException")
	encrypt(t, e, eu, tenantKey, nil) // another operation is unaffected

	set(awsemu.Fault{Kind: awsemu.FaultInternal, Operation: "Decrypt"})
	wantType[*types.KMSInternalException](t, decrypt(eu))

	set(awsemu.Fault{Kind: awsemu.FaultUnavailable, Region: euWest1})
	wantCode(t, decrypt(eu), "ServiceUnavailableException")
	if _, err := us.ListKeys(e.ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("other region err = %v", err)
	}
	_, err := e.sts(t, euWest1, platformAcct, "platform").GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ServiceUnavailable")

	set(awsemu.Fault{Kind: awsemu.FaultRefuse, Region: euWest1})
	err = decrypt(eu)
	var ae smithy.APIError
	if err == nil || errors.As(err, &ae) {
		t.Fatalf("refused region err = %v, want a transport error", err)
	}

	set(awsemu.Fault{Kind: awsemu.FaultLatency, Latency: 50 * time.Millisecond})
	start := time.Now()
	if err := decrypt(eu); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("latency fault: err = %v after %v", err, time.Since(start))
	}

	set(awsemu.Fault{Kind: awsemu.FaultThrottle, Probability: 0.5})
	failed := 0
	for range 60 {
		if decrypt(eu) != nil {
			failed++
		}
	}
	if failed == 0 || failed == 60 { // each has probability 2^-60
		t.Fatalf("probability 0.5: %d of 60 failed", failed)
	}
	set()
	if err := decrypt(eu); err != nil {
		t.Fatalf("after clearing faults err = %v", err)
	}
	if err := e.ts.SetFaults([]awsemu.Fault{{Kind: awsemu.FaultLatency}}); err == nil {
		t.Fatal("SetFaults(latency without duration) err = nil")
	}
}

func TestEventLog(t *testing.T) {
	e := newEnv(t)
	e.ts.ClearEvents()
	p := e.kms(t, euWest1, platformAcct, "platform")
	out, err := p.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(tenantKeyARN), Plaintext: []byte("x"), EncryptionContext: map[string]string{"tenant": "42"}})
	if err != nil {
		t.Fatal(err)
	}
	reqID, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	_, err = p.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	wantType[*types.InvalidCiphertextException](t, err)

	ev := e.ts.Events()
	if len(ev) != 2 {
		t.Fatalf("Events() = %d events, want 2", len(ev))
	}
	want := awsemu.Event{
		EventTime: ev[0].EventTime, EventSource: "kms.amazonaws.com", EventName: "Encrypt", AWSRegion: euWest1,
		UserIdentity:      awsemu.UserIdentity{AccountID: platformAcct, ARN: "arn:aws:iam::111111111111:user/platform"},
		Resources:         []string{tenantKeyARN},
		EncryptionContext: map[string]string{"tenant": "42"}, RequestID: reqID,
	}
	if diff := diffEvents(ev[0], want); diff != "" {
		t.Fatalf("Events()[0] mismatch (-got +want):\n%s", diff)
	}
	if ev[1].ErrorCode != "InvalidCiphertextException" || ev[1].EventName != "Decrypt" {
		t.Fatalf("Events()[1] = %+v", ev[1])
	}
}

// TestAdminHTTP drives the same controls through the admin routes.
func TestAdminHTTP(t *testing.T) {
	e := newEnv(t)
	post := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, e.ts.URL+awsemu.AdminPrefix+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	before := e.ts.Now()
	if r := post("POST", "clock/advance", `{"duration":"48h"}`); r.StatusCode != 200 || e.ts.Now().Sub(before) < 48*time.Hour {
		t.Fatalf("clock/advance: status %d, clock moved %v", r.StatusCode, e.ts.Now().Sub(before))
	}
	if r := post("POST", "clock/advance", `{"duration":"soon"}`); r.StatusCode != 400 {
		t.Fatalf("clock/advance with a bad duration: status %d, want 400", r.StatusCode)
	}
	if r := post("PUT", "faults", `[{"kind":"throttle","region":"eu-west-1","operation":"ListKeys"}]`); r.StatusCode != 200 {
		t.Fatalf("PUT faults: status %d", r.StatusCode)
	}
	_, err := e.admin(t, euWest1).ListKeys(e.ctx, &kms.ListKeysInput{})
	wantCode(t, err, "ThrottlingException")
	body, _ := io.ReadAll(post("GET", "faults", "").Body)
	if got := strings.TrimSpace(string(body)); got != `[{"kind":"throttle","region":"eu-west-1","operation":"ListKeys"}]` {
		t.Fatalf("GET faults = %s", got)
	}
	if r := post("PUT", "faults", `[{"kind":"flood"}]`); r.StatusCode != 400 {
		t.Fatalf("PUT faults with an unknown kind: status %d, want 400", r.StatusCode)
	}
	post("DELETE", "faults", "")
	if _, err := e.admin(t, euWest1).ListKeys(e.ctx, &kms.ListKeysInput{}); err != nil {
		t.Fatalf("after DELETE faults err = %v", err)
	}
	var events []awsemu.Event
	if err := json.NewDecoder(post("GET", "events", "").Body).Decode(&events); err != nil || len(events) != 2 {
		t.Fatalf("GET events = %d events, err %v; want 2", len(events), err)
	}
	if r := post("GET", "nothing", ""); r.StatusCode != 404 {
		t.Fatalf("unknown control: status %d", r.StatusCode)
	}
}

func TestStateFile(t *testing.T) {
	path := t.TempDir() + "/state.json"
	w := loadWorld(t)
	e := newEnv(t)
	if err := e.ts.SetStateFile(path); err != nil {
		t.Fatal(err)
	}
	c := e.admin(t, euWest1)
	id := *createKey(t, e, c, nil).KeyId
	blob := encrypt(t, e, c, id, nil)
	e.ts.Advance(10 * day)

	again := &env{ts: awsemu.NewTestServer(t, w), ctx: e.ctx}
	if err := again.ts.SetStateFile(path); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(again.ts.Now()); d < 10*day-time.Minute {
		t.Fatalf("restored clock is %v ahead, want 10 days", d)
	}
	dec := must[*kms.DecryptOutput](t)(again.admin(t, euWest1).Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob}))
	if !bytes.Equal(dec.Plaintext, []byte("secret")) {
		t.Fatalf("Decrypt() after restart = %q", dec.Plaintext)
	}
}

// TestConcurrentUse runs callers in parallel with clock moves, for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			c := e.admin(t, []string{euWest1, usEast1}[i%2])
			for range 20 {
				blob, err := c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(mrkKey), Plaintext: []byte("x")})
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			e.ts.Advance(time.Hour)
			_ = e.ts.Events()
		}
	})
	wg.Wait()
}

func TestAdminKeyEnabled(t *testing.T) {
	e := newEnv(t)
	arn := "arn:aws:kms:" + euWest1 + ":" + customerAcct + ":key/" + tenantKey
	post := func(path, body string) int {
		resp, err := http.Post(e.ts.URL+awsemu.AdminPrefix+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("keys/disable", `{"key_arn":"`+arn+`"}`); code != 200 {
		t.Fatalf("keys/disable: status %d", code)
	}
	if got := describe(t, e, e.admin(t, euWest1), tenantKey).KeyState; got != types.KeyStateDisabled {
		t.Fatalf("state after keys/disable = %s, want Disabled", got)
	}
	if code := post("keys/enable", `{"key_arn":"`+arn+`"}`); code != 200 {
		t.Fatalf("keys/enable: status %d", code)
	}
	if got := describe(t, e, e.admin(t, euWest1), tenantKey).KeyState; got != types.KeyStateEnabled {
		t.Fatalf("state after keys/enable = %s, want Enabled", got)
	}
	if code := post("keys/disable", `{"key_arn":"arn:aws:kms:eu-west-1:222222222222:key/nope"}`); code != 400 {
		t.Fatalf("keys/disable of an unknown key: status %d, want 400", code)
	}
}
