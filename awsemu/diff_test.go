package awsemu_test

import (
	"github.com/byok-dev/byok/awsemu"
	"github.com/google/go-cmp/cmp"
)

func diffEvents(got, want awsemu.Event) string { return cmp.Diff(got, want) }
