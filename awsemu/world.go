package awsemu

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"

	"gopkg.in/yaml.v3"
)

// World is the initial configuration of an emulator: regions, accounts, their
// IAM users and roles, and the keys that exist before the first request. The
// YAML form is documented in docs/awsemu.md; field names are the YAML keys.
type World struct {
	// Regions served; a request signed for another region is refused.
	Regions  []string  `yaml:"regions" json:"regions"`
	Accounts []Account `yaml:"accounts" json:"accounts"`
}

// Account is one AWS account.
type Account struct {
	ID    string `yaml:"id" json:"id"` // 12 digits
	Users []User `yaml:"users" json:"users"`
	Roles []Role `yaml:"roles" json:"roles"`
	Keys  []Key  `yaml:"keys" json:"keys"`
}

// User is an IAM user with one long-term access key.
type User struct {
	Name            string `yaml:"name" json:"name"`
	AccessKeyID     string `yaml:"access_key_id" json:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" json:"secret_access_key"`
	// Policies maps an inline policy name to its JSON document.
	Policies map[string]string `yaml:"policies" json:"policies"`
}

// Role is an IAM role that principals assume with sts:AssumeRole.
type Role struct {
	Name        string            `yaml:"name" json:"name"`
	TrustPolicy string            `yaml:"trust_policy" json:"trust_policy"`
	Policies    map[string]string `yaml:"policies" json:"policies"`
	// MaxSessionDuration in seconds, 3600 when zero.
	MaxSessionDuration int `yaml:"max_session_duration" json:"max_session_duration"`
}

// Key is a KMS key present at start. Replicas lists the regions that hold a
// replica of a multi-Region key.
type Key struct {
	ID          string            `yaml:"id" json:"id"` // generated when empty
	Region      string            `yaml:"region" json:"region"`
	Spec        string            `yaml:"spec" json:"spec"` // SYMMETRIC_DEFAULT when empty
	Description string            `yaml:"description" json:"description"`
	Policy      string            `yaml:"policy" json:"policy"` // the default key policy when empty
	Disabled    bool              `yaml:"disabled" json:"disabled"`
	Rotation    bool              `yaml:"rotation" json:"rotation"`
	MultiRegion bool              `yaml:"multi_region" json:"multi_region"`
	Replicas    []string          `yaml:"replicas" json:"replicas"`
	Aliases     []string          `yaml:"aliases" json:"aliases"`
	Tags        map[string]string `yaml:"tags" json:"tags"`
}

// LoadWorld reads a world from a YAML file.
func LoadWorld(path string) (*World, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseWorld(f)
}

// ParseWorld reads a world in YAML and checks it. Unknown fields are errors, so
// that a typo does not silently drop a policy.
func ParseWorld(r io.Reader) (*World, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var w World
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("awsemu: world: %w", err)
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return &w, nil
}

var (
	accountIDRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	iamNameRe   = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// Validate reports the first problem in w.
func (w *World) Validate() error {
	if len(w.Regions) == 0 {
		return fmt.Errorf("awsemu: world: no regions")
	}
	for _, r := range w.Regions {
		if !regionRe.MatchString(r) {
			return fmt.Errorf("awsemu: world: region %q is not a region name", r)
		}
	}
	keys := map[string]bool{}
	for i := range w.Accounts {
		if err := w.validateAccount(&w.Accounts[i], keys); err != nil {
			return fmt.Errorf("awsemu: world: account %q: %w", w.Accounts[i].ID, err)
		}
	}
	return nil
}

func (w *World) validateAccount(a *Account, accessKeys map[string]bool) error {
	if !accountIDRe.MatchString(a.ID) {
		return fmt.Errorf("id must be 12 digits")
	}
	for _, u := range a.Users {
		if !iamNameRe.MatchString(u.Name) {
			return fmt.Errorf("user name %q is invalid", u.Name)
		}
		if u.AccessKeyID == "" || u.SecretAccessKey == "" || accessKeys[u.AccessKeyID] {
			return fmt.Errorf("user %q: access_key_id and secret_access_key must be set and unique", u.Name)
		}
		accessKeys[u.AccessKeyID] = true
	}
	for _, r := range a.Roles {
		if !iamNameRe.MatchString(r.Name) {
			return fmt.Errorf("role name %q is invalid", r.Name)
		}
	}
	for _, k := range a.Keys {
		if !slices.Contains(w.Regions, k.Region) {
			return fmt.Errorf("key %q: region %q is not in regions", k.ID, k.Region)
		}
		for _, r := range k.Replicas {
			if !slices.Contains(w.Regions, r) || !k.MultiRegion {
				return fmt.Errorf("key %q: replica region %q needs multi_region and a configured region", k.ID, r)
			}
		}
	}
	return nil
}
