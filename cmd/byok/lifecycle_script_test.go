package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/byok-dev/byok/awsemu"
)

// TestLifecycleScripts runs the walkthroughs in testdata/lifecycle: each
// script starts its own byok serve (the test binary run as byok, in the
// background: `exec byok serve --config byok.yaml &serve&`) from the
// byok.yaml and platform.yaml it holds, over its own AWS emulator with byok
// dev's demo world, and drives it with the byok CLI only. Scripts move
// their emulator's clock, so none shares a server with another.
//
// Each script's environment has:
//
//	EMULATOR       the emulator's URL, for byok.yaml's aws.endpoint
//	BYOK_LISTEN    a free loopback address, for byok.yaml's listen
//	BYOK_URL       http://$BYOK_LISTEN; BYOK_TOKEN is the script's to set
//	KEY, SPARE     the demo customer's two multi-Region keys in eu-west-1
//	REPLICA        KEY's replica in eu-central-1
//	ROLE           the customer's role the platform may assume with
//	               EXTERNAL_ID, allowed to use the customer's keys
//	AWS_*          the platform's credentials in the emulator
//	VAULT_*, XROLE the customer's second account (lifecycle_xacct_test.go)
//
// and these commands besides testscript's own:
//
//	exits CODE PROGRAM [ARGS...]   run PROGRAM, check its exit code
//	envfile VAR FILE               set VAR to FILE's first line
//	expand FILE                    replace $VAR in FILE with the script's values
//	eventually SECONDS REGEXP PROGRAM [ARGS...]
//	                               run PROGRAM every 250 ms until it exits 0 with
//	                               stdout matching REGEXP, for at most SECONDS
//	receiver VAR FILE              serve a webhook receiver, set VAR to its URL,
//	                               append each delivery's body to FILE
//	emu advance DURATION           move the emulator's clock (POST /_awsemu/clock/advance)
//	emu events                     print the emulator's CloudTrail-like log, one
//	                               "NAME REGION ERROR|-" line per call (Server.Events)
//	emu clear-events               empty it (DELETE /_awsemu/events)
//
// The customer's actions in their AWS account, made with the AWS SDK as the
// customer's administrator (user admin of account 222222222222, or of the
// key's account):
//
//	emu disable KEY_ARN            kms:DisableKey
//	emu enable KEY_ARN             kms:EnableKey
//	emu schedule-deletion KEY_ARN DAYS   kms:ScheduleKeyDeletion
//	emu put-policy KEY_ARN FILE    kms:PutKeyPolicy with FILE's policy
func TestLifecycleScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:   "testdata/lifecycle",
		Setup: lifecycleSetup,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":      cmdExits,
			"envfile":    cmdEnvfile,
			"expand":     cmdExpand,
			"eventually": cmdEventually,
			"receiver":   cmdReceiver,
			"emu":        cmdEmu,
		},
	})
}

// lifecycleEmuKey is where a script's emulator is kept in its Values.
type lifecycleEmuKey struct{}

type lifecycleEmu struct {
	srv *awsemu.Server
	url string
}

func lifecycleSetup(e *testscript.Env) error {
	world, err := devWorld()
	if err != nil {
		return err
	}
	world.Accounts[1].Users = []awsemu.User{{Name: "admin", AccessKeyID: demoCustomerKey, SecretAccessKey: demoCustomerSecret,
		Policies: map[string]string{"kms": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`}}}
	world.Accounts[1].Roles = []awsemu.Role{lifecycleRole}
	vault, err := addVaultAccount(world)
	if err != nil {
		return err
	}
	srv, err := awsemu.New(world)
	if err != nil {
		return err
	}
	hs := httptest.NewServer(srv)
	e.Defer(hs.Close)
	e.Values[lifecycleEmuKey{}] = &lifecycleEmu{srv: srv, url: hs.URL}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	listen := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return err
	}
	// A second instance's address, for the scripts that run one per region.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	central := ln2.Addr().String()
	if err := ln2.Close(); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"EMULATOR": hs.URL, "BYOK_LISTEN": listen, "BYOK_URL": "http://" + listen, "CENTRAL": central,
		"KEY": devKeyARN, "SPARE": devSpareKeyARN, "REPLICA": replicaARN(devKeyARN),
		"ROLE": lifecycleRoleARN, "EXTERNAL_ID": lifecycleExternalID,
		"AWS_ACCESS_KEY_ID": devAccessKey, "AWS_SECRET_ACCESS_KEY": devSecretKey, "AWS_REGION": devRegion,
	} {
		e.Setenv(k, v)
	}
	for k, v := range vault {
		e.Setenv(k, v)
	}
	return nil
}

// lifecycleRole is the customer's role of the assume_role pattern: the
// platform's account may assume it with lifecycleExternalID, and it may use
// the customer's keys, whose policies delegate to the account's IAM.
var lifecycleRole = awsemu.Role{Name: "byok-demo",
	TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + devPlatformAccount + `:root"},
	  "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + lifecycleExternalID + `"}}}]}`,
	Policies: map[string]string{"kms": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`}}

const lifecycleExternalID = "ext-demo-0123456789"

var lifecycleRoleARN = "arn:aws:iam::" + devCustomerAccount + ":role/byok-demo"

// replicaARN is the ARN of a multi-Region key's replica in byok dev's
// replica region.
func replicaARN(primary string) string {
	return strings.Replace(primary, ":"+devRegion+":", ":"+devReplica+":", 1)
}

// expand FILE replaces $VAR and ${VAR} in FILE with the script's
// environment, as the shell would in a here-document.
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expand FILE")
	}
	path := ts.MkAbs(args[0])
	b, err := os.ReadFile(path)
	ts.Check(err)
	ts.Check(os.WriteFile(path, []byte(os.Expand(string(b), ts.Getenv)), 0o600))
}

// eventually SECONDS REGEXP PROGRAM [ARGS...] retries PROGRAM until it
// exits 0 with stdout matching REGEXP: the key health monitor and the
// webhook deliveries act asynchronously. The last attempt's stdout and
// stderr are left for the stdout and stderr commands.
func cmdEventually(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 {
		ts.Fatalf("usage: eventually SECONDS REGEXP PROGRAM [ARGS...]")
	}
	secs, err := strconv.Atoi(args[0])
	ts.Check(err)
	re, err := regexp.Compile("(?m)" + args[1])
	ts.Check(err)
	var last string
	for deadline := time.Now().Add(time.Duration(secs) * time.Second); ; time.Sleep(250 * time.Millisecond) {
		err := ts.Exec(args[2], args[3:]...)
		out := ts.ReadFile("stdout")
		if err == nil && re.MatchString(out) {
			return
		}
		last = fmt.Sprintf("exit: %v\nstdout:\n%sstderr:\n%s", err, out, ts.ReadFile("stderr"))
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not print %q within %d s; last attempt:\n%s", strings.Join(args[2:], " "), args[1], secs, last)
		}
	}
}

// receiver VAR FILE serves a webhook receiver for the rest of the script:
// it answers 204 to every delivery and appends its body, one line each, to
// FILE.
func cmdReceiver(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: receiver VAR FILE")
	}
	path := ts.MkAbs(args[1])
	ts.Check(os.WriteFile(path, nil, 0o600))
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
		if err == nil {
			_, err = f.Write(append(body, '\n'))
			err = errors.Join(err, f.Close())
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL)
}

// cmdEmu acts on the script's emulator: its controls, or the customer's
// AWS account.
func cmdEmu(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: emu advance|events|clear-events|disable|enable|schedule-deletion|put-policy [ARGS]")
	}
	emu := ts.Value(lifecycleEmuKey{}).(*lifecycleEmu)
	switch op, rest := args[0], args[1:]; {
	case op == "advance" && len(rest) == 1:
		emuControl(ts, emu, http.MethodPost, "clock/advance", `{"duration":"`+rest[0]+`"}`)
	case op == "events" && len(rest) == 0:
		emuEvents(ts, emu)
	case op == "clear-events" && len(rest) == 0:
		emuControl(ts, emu, http.MethodDelete, "events", "")
	default:
		emuCustomer(ts, emu, op, rest)
	}
}

func emuControl(ts *testscript.TestScript, emu *lifecycleEmu, method, control, body string) {
	req, err := http.NewRequest(method, emu.url+awsemu.AdminPrefix+control, strings.NewReader(body))
	ts.Check(err)
	resp, err := http.DefaultClient.Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("%s %s answered %s: %s", method, control, resp.Status, b)
	}
}

func emuEvents(ts *testscript.TestScript, emu *lifecycleEmu) {
	for _, ev := range emu.srv.Events() {
		fmt.Fprintf(ts.Stdout(), "%s %s %s\n", ev.EventName, ev.AWSRegion, orDash(ev.ErrorCode))
	}
}

// emuCustomer makes the customer's KMS call on a key, in the key's region.
func emuCustomer(ts *testscript.TestScript, emu *lifecycleEmu, op string, args []string) {
	if len(args) == 0 {
		ts.Fatalf("emu %s: want a key ARN", op)
	}
	parts := strings.Split(args[0], ":")
	if len(parts) != 6 {
		ts.Fatalf("emu %s: %q is not a key ARN", op, args[0])
	}
	api := kmsapi.NewFromConfig(aws.Config{
		Region: parts[3], BaseEndpoint: aws.String(emu.url), RetryMaxAttempts: 1,
		Credentials: aws.NewCredentialsCache(adminCredentials(parts[4])),
	})
	ctx, key := context.Background(), aws.String(args[0])
	var err error
	switch {
	case op == "disable" && len(args) == 1:
		_, err = api.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: key})
	case op == "enable" && len(args) == 1:
		_, err = api.EnableKey(ctx, &kmsapi.EnableKeyInput{KeyId: key})
	case op == "schedule-deletion" && len(args) == 2:
		days, aerr := strconv.Atoi(args[1])
		ts.Check(aerr)
		_, err = api.ScheduleKeyDeletion(ctx, &kmsapi.ScheduleKeyDeletionInput{KeyId: key, PendingWindowInDays: aws.Int32(int32(days))})
	case op == "put-policy" && len(args) == 2:
		policy := ts.ReadFile(args[1])
		_, err = api.PutKeyPolicy(ctx, &kmsapi.PutKeyPolicyInput{KeyId: key, Policy: aws.String(policy), PolicyName: aws.String("default")})
	default:
		ts.Fatalf("usage: emu disable|enable KEY_ARN, emu schedule-deletion KEY_ARN DAYS, emu put-policy KEY_ARN FILE")
	}
	if err != nil {
		ts.Fatalf("emu %s: %v", op, err)
	}
}

// awsStatic is the customer administrator's long-term credentials.
type awsStatic aws.Credentials

func (c awsStatic) Retrieve(context.Context) (aws.Credentials, error) { return aws.Credentials(c), nil }
