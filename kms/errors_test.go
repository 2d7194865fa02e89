package kms

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestErrorClassesAndSentinels(t *testing.T) {
	err := fmt.Errorf("keyring: unwrap: %w", &Error{Class: Disabled, Op: "unwrap", Key: "arn:k", Region: "eu-west-1", RequestID: "r-1", Err: errors.New("key is disabled")})
	if !errors.Is(err, ErrDisabled) || errors.Is(err, ErrDenied) {
		t.Fatalf("errors.Is matches the wrong sentinel: %v", err)
	}
	if ClassOf(err) != Disabled || RequestIDOf(err) != "r-1" {
		t.Fatalf("ClassOf() = %v, RequestIDOf() = %q", ClassOf(err), RequestIDOf(err))
	}
	want := "keyring: unwrap: kms: unwrap arn:k in eu-west-1: key_disabled: key is disabled (request id r-1)"
	if err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	if ClassOf(errors.New("plain")) != 0 || RequestIDOf(nil) != "" {
		t.Fatal("an unclassified error has a class or request id")
	}
	if ErrThrottled.Error() != "kms: kms_throttled" {
		t.Fatalf("sentinel Error() = %q", ErrThrottled.Error())
	}
	wrapped := &Error{Class: Unavailable, Op: "probe", Err: context.DeadlineExceeded}
	if !errors.Is(wrapped, context.DeadlineExceeded) {
		t.Fatal("the provider's own error is not unwrapped")
	}
}

func TestClassProperties(t *testing.T) {
	codes := map[string]bool{}
	for c := Denied; c <= Misconfigured; c++ {
		if codes[c.Code()] {
			t.Fatalf("code %s used twice", c.Code())
		}
		codes[c.Code()] = true
		if c.Transient() && c.Definitive() {
			t.Fatalf("%v is both transient and definitive", c)
		}
	}
	for _, c := range []Class{Throttled, Unavailable} {
		if !c.Transient() {
			t.Errorf("%v is not transient", c)
		}
	}
	for _, c := range []Class{Denied, Disabled, PendingDeletion, NotFound} {
		if !c.Definitive() {
			t.Errorf("%v is not definitive", c)
		}
	}
	if Class(0).Code() != "kms_class_0" {
		t.Errorf("zero class code = %q", Class(0).Code())
	}
}

func TestBinding(t *testing.T) {
	b := Identity{Tenant: "acme", Version: 7, Purpose: PurposeTenantKey}
	ec := b.EncryptionContext()
	if ec["byok:tenant"] != "acme" || ec["byok:key-version"] != "7" || ec["byok:purpose"] != "tenant-key" {
		t.Fatalf("EncryptionContext() = %v", ec)
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Identity{{}, {Tenant: "acme", Purpose: "p"}, {Tenant: "a b", Version: 1, Purpose: "p"}, {Tenant: "acme", Version: 1}} {
		if ClassOf(bad.Validate()) != Misconfigured {
			t.Errorf("Validate(%+v) = %v, want class Misconfigured", bad, bad.Validate())
		}
	}
}
