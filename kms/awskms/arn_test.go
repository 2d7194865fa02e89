package awskms_test

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byok-dev/byok/kms/awskms"
)

func TestParseARN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want awskms.ARN
		mrk  bool
	}{
		{"arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
			awskms.ARN{Partition: "aws", Region: "eu-west-1", Account: "222222222222", Kind: awskms.KeyARN, KeyID: "0a1b2c3d-1111-4222-8333-444455556666"}, false},
		{"arn:aws:kms:us-east-1:222222222222:key/mrk-0123456789abcdef0123456789abcdef",
			awskms.ARN{Partition: "aws", Region: "us-east-1", Account: "222222222222", Kind: awskms.KeyARN, KeyID: "mrk-0123456789abcdef0123456789abcdef"}, true},
		{"arn:aws:kms:eu-west-1:222222222222:alias/tenant/acme-1",
			awskms.ARN{Partition: "aws", Region: "eu-west-1", Account: "222222222222", Kind: awskms.AliasARN, Alias: "alias/tenant/acme-1"}, false},
		{"arn:aws-cn:kms:cn-north-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
			awskms.ARN{Partition: "aws-cn", Region: "cn-north-1", Account: "222222222222", Kind: awskms.KeyARN, KeyID: "0a1b2c3d-1111-4222-8333-444455556666"}, false},
		{"arn:aws-us-gov:kms:us-gov-west-1:222222222222:key/mrk-0123456789abcdef0123456789abcdef",
			awskms.ARN{Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "222222222222", Kind: awskms.KeyARN, KeyID: "mrk-0123456789abcdef0123456789abcdef"}, true},
	} {
		got, err := awskms.ParseARN(tc.in)
		if err != nil {
			t.Errorf("ParseARN(%q) err = %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseARN(%q) mismatch (-want +got):\n%s", tc.in, diff)
		}
		if got.String() != tc.in || got.MultiRegion() != tc.mrk {
			t.Errorf("ParseARN(%q) = %s, multi-Region %v; want the input back, %v", tc.in, got, got.MultiRegion(), tc.mrk)
		}
	}
}

func TestParseARNErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"0a1b2c3d-1111-4222-8333-444455556666",
		"alias/acme",
		"arn:aws:kms:eu-west-1:222222222222",
		"arn:aws:s3:eu-west-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
		"arn:aws-iso:kms:us-iso-east-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
		"arn:aws:kms:cn-north-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
		"arn:aws-cn:kms:eu-west-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
		"arn:aws-us-gov:kms:us-east-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
		"arn:aws:kms:EU-west-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666",
		"arn:aws:kms:eu-west-1:2222:key/0a1b2c3d-1111-4222-8333-444455556666",
		"arn:aws:kms:eu-west-1:222222222222:key/0A1B2C3D-1111-4222-8333-444455556666",
		"arn:aws:kms:eu-west-1:222222222222:key/mrk-0123",
		"arn:aws:kms:eu-west-1:222222222222:key/",
		"arn:aws:kms:eu-west-1:222222222222:alias/",
		"arn:aws:kms:eu-west-1:222222222222:alias/aws/s3",
		"arn:aws:kms:eu-west-1:222222222222:alias/bad name",
		"arn:aws:kms:eu-west-1:222222222222:grant/abc",
	} {
		_, err := awskms.ParseARN(in)
		var ae *awskms.ARNError
		if !errors.Is(err, awskms.ErrInvalidARN) || !errors.As(err, &ae) || ae.Input != in || ae.Reason == "" {
			t.Errorf("ParseARN(%q) err = %v, want an *ARNError matching ErrInvalidARN", in, err)
		}
	}
}

func TestARNInRegion(t *testing.T) {
	mrk, _ := awskms.ParseARN("arn:aws:kms:eu-west-1:222222222222:key/mrk-0123456789abcdef0123456789abcdef")
	got, err := mrk.InRegion("us-east-1")
	if err != nil || got.String() != "arn:aws:kms:us-east-1:222222222222:key/mrk-0123456789abcdef0123456789abcdef" {
		t.Errorf("InRegion(us-east-1) = %s, %v", got, err)
	}
	if _, err := mrk.InRegion("cn-north-1"); !errors.Is(err, awskms.ErrInvalidARN) {
		t.Errorf("InRegion(region of another partition) err = %v, want ErrInvalidARN", err)
	}
	single, _ := awskms.ParseARN("arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666")
	if _, err := single.InRegion("us-east-1"); !errors.Is(err, awskms.ErrInvalidARN) {
		t.Errorf("single-Region key InRegion(us-east-1) err = %v, want ErrInvalidARN", err)
	}
	if got, err := single.InRegion("eu-west-1"); err != nil || got != single {
		t.Errorf("InRegion(own region) = %v, %v; want the ARN unchanged", got, err)
	}
}

func TestFuzzSeedCorpusExists(t *testing.T) {
	entries, err := os.ReadDir("testdata/fuzz/FuzzParseARN")
	if err != nil || len(entries) < 5 {
		t.Fatalf("seed corpus of FuzzParseARN: %d files, err %v", len(entries), err)
	}
}

func FuzzParseARN(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		a, err := awskms.ParseARN(s)
		if err != nil {
			return
		}
		if a.String() != s {
			t.Fatalf("ParseARN(%q).String() = %q", s, a.String())
		}
	})
}
