package awsemu_test

import (
	"strings"
	"testing"

	"github.com/byok-dev/byok/awsemu"
)

func TestParseWorldErrors(t *testing.T) {
	user := `users: [{name: u, access_key_id: AKIA1, secret_access_key: s}]`
	tests := []struct{ name, yaml, want string }{
		{"no regions", `accounts: []`, "no regions"},
		{"bad region", `regions: [moon]`, "not a region name"},
		{"unknown field", "regions: [eu-west-1]\nbogus: 1", "field bogus not found"},
		{"short account id", "regions: [eu-west-1]\naccounts: [{id: '1234'}]", "12 digits"},
		{"duplicate access key", "regions: [eu-west-1]\naccounts: [{id: '111111111111', " + user + "}, {id: '222222222222', " + user + "}]", "unique"},
		{"key in unknown region", "regions: [eu-west-1]\naccounts: [{id: '111111111111', keys: [{region: us-east-1}]}]", "not in regions"},
		{"replica of single-Region key", "regions: [eu-west-1, us-east-1]\naccounts: [{id: '111111111111', keys: [{region: eu-west-1, replicas: [us-east-1]}]}]", "multi_region"},
		{"malformed identity policy", "regions: [eu-west-1]\naccounts: [{id: '111111111111', users: [{name: u, access_key_id: A, secret_access_key: s, policies: {p: '{'}}]}]", "policy p"},
		{"malformed trust policy", "regions: [eu-west-1]\naccounts: [{id: '111111111111', roles: [{name: r, trust_policy: 'x'}]}]", "trust policy"},
		{"bad key id", "regions: [eu-west-1]\naccounts: [{id: '111111111111', keys: [{id: nope, region: eu-west-1}]}]", "UUID"},
		{"bad alias", "regions: [eu-west-1]\naccounts: [{id: '111111111111', keys: [{region: eu-west-1, aliases: [tenant]}]}]", "aliasName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := awsemu.ParseWorld(strings.NewReader(tt.yaml))
			if err == nil {
				_, err = awsemu.New(w)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
