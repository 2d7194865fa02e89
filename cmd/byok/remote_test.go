package main

import (
	"errors"
	"testing"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/errcode"
)

// Every API code exits with the registry's exit code and prints its hint; a
// code the registry does not know (a proxy's page) is a refusal, with no
// hint.
func TestAPIErrFollowsTheRegistry(t *testing.T) {
	if exitDecrypt != errcode.ExitDecrypt {
		t.Fatalf("exitDecrypt = %d, the registry's ExitDecrypt %d", exitDecrypt, errcode.ExitDecrypt)
	}
	for _, e := range append(errcode.All(), errcode.Entry{Code: "http_502", Exit: exitRefused}) {
		var ce *cliError
		if !errors.As(apiErr(&client.Error{Code: e.Code, Message: "m"}), &ce) || ce.code != e.Exit || ce.hint != e.Hint {
			t.Errorf("apiErr(%s) = %+v, want exit %d and hint %q", e.Code, ce, e.Exit, e.Hint)
		}
	}
}
