package platform

import (
	"fmt"
	"strconv"
	"strings"
)

// Environment variables that override the file. Per-region variables name
// the region in upper case with underscores: BYOK_REGION_EU_WEST_1_….
const (
	EnvKeySpecs           = "BYOK_POLICY_KEY_SPECS"            // comma-separated
	EnvRequireMultiRegion = "BYOK_POLICY_REQUIRE_MULTI_REGION" // true or false
	EnvAliasARNs          = "BYOK_POLICY_ALIAS_ARNS"           // reject or resolve
	EnvKeyBinding         = "BYOK_POLICY_KEY_BINDING"          // immutable or changeable
	EnvDeletionWarnings   = "BYOK_POLICY_DELETION_WARNINGS"    // comma-separated durations

	envRegionPrefix = "BYOK_REGION_"
	envPolicyPrefix = "BYOK_POLICY_"
)

// Per-region variable suffixes: BYOK_REGION_<REGION>_<suffix>.
const (
	EnvSuffixAccount  = "_PLATFORM_ACCOUNT_ID"
	EnvSuffixRole     = "_PLATFORM_ROLE_ARN"
	EnvSuffixReplicas = "_REPLICA_REGIONS" // comma-separated; empty clears
)

// EnvRegion returns the variable name for a region's setting, e.g.
// EnvRegion("eu-west-1", EnvSuffixRole) is BYOK_REGION_EU_WEST_1_PLATFORM_ROLE_ARN.
func EnvRegion(region, suffix string) string {
	return envRegionPrefix + strings.ToUpper(strings.ReplaceAll(region, "-", "_")) + suffix
}

// ApplyEnv overrides c from env (KEY=value entries, as os.Environ returns).
// Variables under BYOK_POLICY_ and BYOK_REGION_ that it does not know, or
// that name a region not in the file, are problems: a typo must not be
// silently ignored. Other BYOK_ variables belong to other components.
func (c *Config) ApplyEnv(env []string) []Problem {
	var ps []Problem
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if p, ok := c.applyVar(k, v); !ok {
			ps = append(ps, p)
		}
	}
	return ps
}

func (c *Config) applyVar(k, v string) (Problem, bool) {
	switch {
	case strings.HasPrefix(k, envPolicyPrefix):
		return c.Policy.applyVar(k, v)
	case strings.HasPrefix(k, envRegionPrefix):
		return c.applyRegionVar(k, v)
	}
	return Problem{}, true
}

func (p *Policy) applyVar(k, v string) (Problem, bool) {
	switch k {
	case EnvKeySpecs:
		p.KeySpecs = splitList(v)
	case EnvRequireMultiRegion:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Problem{"$" + k, fmt.Sprintf("%q is not a boolean", truncate(v)), "set true or false"}, false
		}
		p.RequireMultiRegion = b
	case EnvAliasARNs:
		p.AliasARNs = AliasPolicy(v)
	case EnvKeyBinding:
		p.KeyBinding = KeyBinding(v)
	case EnvDeletionWarnings:
		return p.applyWarnings(k, v)
	default:
		return Problem{"$" + k, "unknown variable", "see docs/configuration.md for the BYOK_POLICY_ variables"}, false
	}
	return Problem{}, true
}

func (p *Policy) applyWarnings(k, v string) (Problem, bool) {
	var ds []Duration
	for _, s := range splitList(v) {
		d, err := ParseDuration(s)
		if err != nil {
			return Problem{"$" + k, err.Error(), "use durations such as 7d,24h"}, false
		}
		ds = append(ds, d)
	}
	p.DeletionWarnings = ds
	return Problem{}, true
}

func (c *Config) applyRegionVar(k, v string) (Problem, bool) {
	for i := range c.Regions {
		r := &c.Regions[i]
		switch k {
		case EnvRegion(r.Name, EnvSuffixAccount):
			r.PlatformAccountID = v
		case EnvRegion(r.Name, EnvSuffixRole):
			r.PlatformRoleARN = v
		case EnvRegion(r.Name, EnvSuffixReplicas):
			r.ReplicaRegions = splitList(v)
		default:
			continue
		}
		return Problem{}, true
	}
	return Problem{"$" + k, "names no setting of a configured region", "use BYOK_REGION_<REGION>" + EnvSuffixAccount + ", " + EnvSuffixRole + " or " + EnvSuffixReplicas + " for a region of the file"}, false
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
