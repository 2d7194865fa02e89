package platform

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the platform configuration: where tenants' data is hosted, which
// AWS principal customers grant access to in each region, and the rules a
// customer's key must follow. docs/configuration.md documents the file.
type Config struct {
	Regions []Region `yaml:"regions"`
	Policy  Policy   `yaml:"policy"`
}

// Region is one hosting region and the platform principal that customers'
// key policies and role trust policies name there.
type Region struct {
	Name string `yaml:"name"`
	// PlatformAccountID is the platform's AWS account in this region. Alone,
	// customers grant the account root, which lets the platform's own IAM
	// decide which of its roles may use the key.
	PlatformAccountID string `yaml:"platform_account_id"`
	// PlatformRoleARN, when set, is the one platform role customers grant,
	// which is narrower than the account root. Its account must equal
	// PlatformAccountID when both are set.
	PlatformRoleARN string `yaml:"platform_role_arn"`
	// ReplicaRegions must hold a replica of the tenant's multi-Region key,
	// for disaster recovery.
	ReplicaRegions []string `yaml:"replica_regions"`
}

// Policy is the set of rules a customer's key must follow.
type Policy struct {
	// KeySpecs lists the allowed key specs: SYMMETRIC_DEFAULT, RSA_2048,
	// RSA_3072, RSA_4096 (RSA keys with key usage ENCRYPT_DECRYPT).
	KeySpecs []string `yaml:"key_specs"`
	// RequireMultiRegion demands a multi-Region key (mrk-…).
	RequireMultiRegion bool `yaml:"require_multi_region"`
	// AliasARNs says whether a customer may hand over an alias ARN.
	AliasARNs AliasPolicy `yaml:"alias_arns"`
	// KeyBinding says whether a tenant may change its key once enabled.
	KeyBinding KeyBinding `yaml:"key_binding"`
	// DeletionWarnings are the times before a scheduled key deletion at which
	// the platform warns, longest first.
	DeletionWarnings []Duration `yaml:"deletion_warnings"`
}

// AliasPolicy is what the platform does with an alias ARN.
type AliasPolicy string

// Alias policies.
const (
	// AliasReject refuses alias ARNs: an alias can be moved to another key
	// by the customer at any time, silently.
	AliasReject AliasPolicy = "reject"
	// AliasResolve accepts an alias ARN and resolves it per region to the key
	// it names there; the resolved key ARN is what gets recorded.
	AliasResolve AliasPolicy = "resolve"
)

// KeyBinding is whether a tenant's key may change after enablement.
type KeyBinding string

// Key bindings.
const (
	// BindingImmutable keeps the key enabled first for the tenant's lifetime.
	BindingImmutable KeyBinding = "immutable"
	// BindingChangeable allows another key, every tenant key version being
	// rewrapped under it.
	BindingChangeable KeyBinding = "changeable"
)

// Key specs a platform may allow.
const (
	KeySpecSymmetric = "SYMMETRIC_DEFAULT"
	KeySpecRSA2048   = "RSA_2048"
	KeySpecRSA3072   = "RSA_3072"
	KeySpecRSA4096   = "RSA_4096"
)

var knownKeySpecs = []string{KeySpecSymmetric, KeySpecRSA2048, KeySpecRSA3072, KeySpecRSA4096}

// IsRSA reports whether spec is one of the RSA key specs.
func IsRSA(spec string) bool { return strings.HasPrefix(spec, "RSA_") }

// MaxConfigSize bounds the configuration file.
const MaxConfigSize = 1 << 20

// Default returns the defaults that a file overrides field by field:
// symmetric keys, alias ARNs rejected, immutable binding, warnings 7 days and
// 1 day before deletion. It has no region, so it is not valid alone.
func Default() *Config {
	return &Config{Policy: Policy{
		KeySpecs:         []string{KeySpecSymmetric},
		AliasARNs:        AliasReject,
		KeyBinding:       BindingImmutable,
		DeletionWarnings: []Duration{Duration(7 * 24 * time.Hour), Duration(24 * time.Hour)},
	}}
}

// Load reads the configuration file at path, applies the environment
// overrides in env (os.Environ's form) and validates the result.
func Load(path string, env []string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tenant: configuration: %w", err)
	}
	defer f.Close()
	return Parse(f, env)
}

// Parse is [Load] for a reader: decode, apply env, validate. Every problem,
// from every stage, is in the returned *ConfigError.
func Parse(r io.Reader, env []string) (*Config, error) {
	c, problems := decode(r)
	problems = append(problems, c.ApplyEnv(env)...)
	problems = append(problems, c.problems()...)
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	return c, nil
}

func decode(r io.Reader) (*Config, []Problem) {
	c := Default()
	data, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return c, []Problem{{Path: "(file)", Problem: err.Error()}}
	}
	if len(data) > MaxConfigSize {
		return c, []Problem{{Path: "(file)", Problem: fmt.Sprintf("larger than %d bytes", MaxConfigSize), Fix: "remove what is not configuration"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return c, decodeProblems(dec.Decode(c))
}

func decodeProblems(err error) []Problem {
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []Problem{{Path: "(file)", Problem: err.Error(), Fix: "write valid YAML"}}
	}
	out := make([]Problem, 0, len(te.Errors))
	for _, e := range te.Errors {
		out = append(out, Problem{Path: "(file)", Problem: e, Fix: "see docs/configuration.md for the fields and their types"})
	}
	return out
}

// Validate reports every problem in c as one *ConfigError, or nil.
func (c *Config) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

func (c *Config) problems() []Problem {
	var ps []Problem
	add := func(path, problem, fix string) { ps = append(ps, Problem{path, problem, fix}) }
	if len(c.Regions) == 0 {
		add("regions", "no hosting region", "list at least one region with its platform account or role")
	}
	seen := map[string]bool{}
	for i := range c.Regions {
		c.Regions[i].check(fmt.Sprintf("regions[%d]", i), c.Policy.RequireMultiRegion, add)
		if name := c.Regions[i].Name; seen[name] {
			add(fmt.Sprintf("regions[%d].name", i), fmt.Sprintf("region %q is listed twice", name), "keep one entry per region")
		}
		seen[c.Regions[i].Name] = true
	}
	c.Policy.check("policy", add)
	return ps
}

type addFunc func(path, problem, fix string)

func (r *Region) check(path string, multiRegion bool, add addFunc) {
	if !regionRe.MatchString(r.Name) {
		add(path+".name", fmt.Sprintf("%q is not an AWS region name", r.Name), "use a region code such as eu-west-1")
	}
	r.checkPrincipal(path, add)
	r.checkReplicas(path, multiRegion, add)
}

func (r *Region) checkPrincipal(path string, add addFunc) {
	if r.PlatformAccountID == "" && r.PlatformRoleARN == "" {
		add(path, "neither platform_account_id nor platform_role_arn is set", "set the platform's AWS account id, its role ARN, or both")
		return
	}
	if r.PlatformAccountID != "" && !accountRe.MatchString(r.PlatformAccountID) {
		add(path+".platform_account_id", fmt.Sprintf("%q is not 12 digits", truncate(r.PlatformAccountID)), `quote the 12-digit account id: "111122223333"`)
	}
	if r.PlatformRoleARN == "" {
		return
	}
	role, err := ParseRoleARN("platform_role_arn", r.PlatformRoleARN)
	if err != nil {
		add(path+".platform_role_arn", err.(*Error).Reason, "use arn:aws:iam::<account>:role/<name>")
		return
	}
	if r.PlatformAccountID != "" && role.Account != r.PlatformAccountID {
		add(path+".platform_role_arn", fmt.Sprintf("role is in account %s, platform_account_id is %s", role.Account, r.PlatformAccountID), "make them the same account, or drop one")
	}
	if regionRe.MatchString(r.Name) && role.Partition != PartitionOf(r.Name) {
		add(path+".platform_role_arn", fmt.Sprintf("role is in partition %s, region %s in %s", role.Partition, r.Name, PartitionOf(r.Name)), "use a role of the region's partition")
	}
}

func (r *Region) checkReplicas(path string, multiRegion bool, add addFunc) {
	if len(r.ReplicaRegions) > 0 && !multiRegion {
		add(path+".replica_regions", "replicas need a multi-Region key", "set policy.require_multi_region: true, or remove replica_regions")
	}
	seen := map[string]bool{}
	for i, rr := range r.ReplicaRegions {
		p := fmt.Sprintf("%s.replica_regions[%d]", path, i)
		switch {
		case !regionRe.MatchString(rr):
			add(p, fmt.Sprintf("%q is not an AWS region name", truncate(rr)), "use a region code such as eu-central-1")
		case rr == r.Name:
			add(p, "the hosting region cannot be its own replica", "remove it")
		case seen[rr]:
			add(p, fmt.Sprintf("region %q is listed twice", rr), "remove the duplicate")
		case PartitionOf(rr) != PartitionOf(r.Name):
			add(p, fmt.Sprintf("%s is in partition %s, the hosting region in %s", rr, PartitionOf(rr), PartitionOf(r.Name)), "replicas stay in their partition")
		}
		seen[rr] = true
	}
}

func (p *Policy) check(path string, add addFunc) {
	if len(p.KeySpecs) == 0 {
		add(path+".key_specs", "no key spec allowed", "allow SYMMETRIC_DEFAULT and/or RSA_2048, RSA_3072, RSA_4096")
	}
	for i, s := range p.KeySpecs {
		if !slices.Contains(knownKeySpecs, s) {
			add(fmt.Sprintf("%s.key_specs[%d]", path, i), fmt.Sprintf("unknown key spec %q", truncate(s)), "use one of "+strings.Join(knownKeySpecs, ", "))
		}
	}
	if p.AliasARNs != AliasReject && p.AliasARNs != AliasResolve {
		add(path+".alias_arns", fmt.Sprintf("%q is neither reject nor resolve", truncate(string(p.AliasARNs))), "set reject (safer) or resolve")
	}
	if p.KeyBinding != BindingImmutable && p.KeyBinding != BindingChangeable {
		add(path+".key_binding", fmt.Sprintf("%q is neither immutable nor changeable", truncate(string(p.KeyBinding))), "set immutable or changeable")
	}
	p.checkWarnings(path+".deletion_warnings", add)
}

// maxDeletionWindow is KMS's longest waiting period before a key is deleted:
// a warning threshold past it would never fire.
const maxDeletionWindow = 30 * 24 * time.Hour

func (p *Policy) checkWarnings(path string, add addFunc) {
	for i, d := range p.DeletionWarnings {
		at := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case d <= 0:
			add(at, fmt.Sprintf("%s is not positive", d), "use a duration such as 7d or 24h")
		case time.Duration(d) > maxDeletionWindow:
			add(at, fmt.Sprintf("%s is longer than KMS's longest deletion window (30d)", d), "use at most 30d")
		case i > 0 && d >= p.DeletionWarnings[i-1]:
			add(at, fmt.Sprintf("%s is not shorter than the warning before it", d), "list thresholds longest first, without repeats")
		}
	}
}

// Region returns the hosting region called name, or an *Error with code
// unknown_region.
func (c *Config) Region(name string) (*Region, error) {
	for i := range c.Regions {
		if c.Regions[i].Name == name {
			return &c.Regions[i], nil
		}
	}
	return nil, &Error{Code: CodeUnknownRegion, Field: "region",
		Reason: fmt.Sprintf("%q is not a hosting region (%s)", truncate(name), strings.Join(c.RegionNames(), ", "))}
}

// RegionNames lists the hosting regions in file order.
func (c *Config) RegionNames() []string {
	out := make([]string, len(c.Regions))
	for i, r := range c.Regions {
		out[i] = r.Name
	}
	return out
}

// AllowsKeySpec reports whether spec is allowed.
func (p *Policy) AllowsKeySpec(spec string) bool { return slices.Contains(p.KeySpecs, spec) }

// Partition is the AWS partition of the region.
func (r *Region) Partition() string { return PartitionOf(r.Name) }

// PlatformAccount is the platform's account in the region: PlatformAccountID,
// or the account of PlatformRoleARN.
func (r *Region) PlatformAccount() string {
	if r.PlatformAccountID != "" {
		return r.PlatformAccountID
	}
	role, _ := ParseRoleARN("platform_role_arn", r.PlatformRoleARN)
	return role.Account
}

// PlatformPrincipal is the ARN customers grant: the platform role when set,
// else the platform account's root.
func (r *Region) PlatformPrincipal() string {
	if r.PlatformRoleARN != "" {
		return r.PlatformRoleARN
	}
	return "arn:" + r.Partition() + ":iam::" + r.PlatformAccountID + ":root"
}

// Duration is a time.Duration written as Go does (72h, 90m) or in days (7d).
type Duration time.Duration

func (d Duration) String() string {
	if d > 0 && time.Duration(d)%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(time.Duration(d)/(24*time.Hour)), 10) + "d"
	}
	return time.Duration(d).String()
}

// ParseDuration parses 7d, 36h or any time.ParseDuration form.
func ParseDuration(s string) (Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number of days", s)
		}
		return Duration(time.Duration(n) * 24 * time.Hour), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 7d or 24h", s)
	}
	return Duration(d), nil
}

// UnmarshalYAML reports a bad duration as a *yaml.TypeError, which the
// decoder collects, so that one bad value does not hide the other problems.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration such as 7d or 24h", n.Line, truncate(n.Value))}}
	}
	*d = v
	return nil
}

// MarshalYAML writes the form UnmarshalYAML reads.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
