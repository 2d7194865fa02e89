package onboarding

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/byok-dev/byok/internal/platform"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

func goldenModels(t *testing.T) map[string]*Model {
	both := "  key_specs: [SYMMETRIC_DEFAULT, RSA_3072]\n"
	newKey := request(platform.AssumedRole, platform.KeySpecRSA3072, mrkID)
	newKey.KeyARN, newKey.CustomerAccount = "", customerAccount
	cross := request(platform.AssumedRole, platform.KeySpecSymmetric, mrkID)
	cross.RoleAccount = roleAccount
	crossNewKey := newKey
	crossNewKey.RoleAccount = roleAccount
	return map[string]*Model{
		"cross-account-role":         mustModel(t, testConfig(t, both, true), cross),
		"cross-account-role-new-key": mustModel(t, testConfig(t, both, false), crossNewKey),
		"direct":                     mustModel(t, testConfig(t, both, false), request(platform.Direct, platform.KeySpecSymmetric, mrkID)),
		"assumed-role":               mustModel(t, testConfig(t, both, true), request(platform.AssumedRole, platform.KeySpecSymmetric, mrkID)),
		"assumed-role-rsa-new-key":   mustModel(t, testConfig(t, both, false), newKey),
	}
}

// The artifacts match the files under testdata/golden (go test -update
// rewrites them) and each parses as what it claims to be.
func TestGolden(t *testing.T) {
	for name, m := range goldenModels(t) {
		for _, a := range m.Artifacts() {
			path := filepath.Join("testdata", "golden", name, a.Name)
			t.Run(name+"/"+a.Name, func(t *testing.T) {
				checkGolden(t, path, a.Content)
				checkParses(t, a)
			})
		}
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generated artifact (run go test -update and review the diff):\n%s", path, got)
	}
}

func checkParses(t *testing.T, a Artifact) {
	t.Helper()
	switch filepath.Ext(a.Name) {
	case ".json":
		checkJSONPolicy(t, a.Content)
	case ".yaml":
		checkCloudFormation(t, a.Content)
	case ".tf":
		checkTerraform(t, a.Content)
	default:
		t.Fatalf("no parser for %s", a.Name)
	}
}

func checkJSONPolicy(t *testing.T, b []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v any = &Policy{}
	if bytes.HasPrefix(b, []byte("[")) {
		v = &[]Statement{}
	}
	if err := dec.Decode(v); err != nil {
		t.Errorf("JSON does not parse as a policy: %v", err)
	}
}

var pseudoParams = map[string]bool{"AWS::AccountId": true, "AWS::Partition": true, "AWS::Region": true}

// checkCloudFormation parses the template and checks that every Ref,
// Fn::GetAtt, Condition and ${Sub} variable names something that exists.
func checkCloudFormation(t *testing.T, b []byte) {
	t.Helper()
	var tpl struct {
		AWSTemplateFormatVersion string                    `yaml:"AWSTemplateFormatVersion"`
		Description              string                    `yaml:"Description"`
		Parameters               map[string]any            `yaml:"Parameters"`
		Conditions               map[string]any            `yaml:"Conditions"`
		Resources                map[string]map[string]any `yaml:"Resources"`
		Outputs                  map[string]any            `yaml:"Outputs"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&tpl); err != nil {
		t.Fatalf("template does not parse: %v", err)
	}
	if tpl.AWSTemplateFormatVersion != "2010-09-09" || len(tpl.Resources) == 0 {
		t.Fatalf("template lacks a version or resources")
	}
	known := func(name string) bool {
		_, p := tpl.Parameters[name]
		_, r := tpl.Resources[name]
		return p || r || pseudoParams[name]
	}
	var walk func(v any, subVars map[string]bool)
	walk = func(v any, subVars map[string]bool) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				checkIntrinsic(t, k, x, known, tpl.Conditions, tpl.Resources, subVars)
				walk(x, subVars)
			}
		case []any:
			for _, x := range v {
				walk(x, subVars)
			}
		}
	}
	for _, part := range []any{tpl.Conditions, tpl.Resources, tpl.Outputs} {
		walk(toAny(part), nil)
	}
}

func toAny(v any) any {
	b, _ := yaml.Marshal(v)
	var out any
	_ = yaml.Unmarshal(b, &out)
	return out
}

var subVarRe = regexp.MustCompile(`\$\{([^}]+)\}`)

func checkIntrinsic(t *testing.T, k string, x any, known func(string) bool, conds map[string]any, res map[string]map[string]any, _ map[string]bool) {
	t.Helper()
	switch k {
	case "Ref":
		if s, _ := x.(string); !known(s) {
			t.Errorf("Ref to unknown %v", x)
		}
	case "Condition":
		if s, ok := x.(string); ok {
			if _, ok := conds[s]; !ok {
				t.Errorf("unknown condition %q", s)
			}
		}
	case "Fn::GetAtt":
		if l, _ := x.([]any); len(l) != 2 || res[l[0].(string)] == nil {
			t.Errorf("Fn::GetAtt of unknown resource %v", x)
		}
	case "Fn::Sub":
		checkSub(t, x, known)
	}
}

func checkSub(t *testing.T, x any, known func(string) bool) {
	t.Helper()
	s, vars := "", map[string]any{}
	switch x := x.(type) {
	case string:
		s = x
	case []any:
		s, _ = x[0].(string)
		vars, _ = x[1].(map[string]any)
	}
	for _, m := range subVarRe.FindAllStringSubmatch(s, -1) {
		if _, ok := vars[m[1]]; !ok && !known(m[1]) {
			t.Errorf("Fn::Sub %q names unknown ${%s}", s, m[1])
		}
	}
}

var (
	heredocRe = regexp.MustCompile(`(?s)<<-EOT\n(.*?)\n\s*EOT`)
	interpRe  = regexp.MustCompile(`\$\{([^}]+)\}`)
	varRefRe  = regexp.MustCompile(`\bvar\.([a-z_]+)`)
	varDeclRe = regexp.MustCompile(`(?m)^variable "([a-z_]+)"`)
	localRe   = regexp.MustCompile(`\blocal\.([a-z_]+)`)
)

// checkTerraform checks what it can without Terraform: each policy heredoc
// is JSON once interpolations are filled in, every var. and local. reference
// is declared, and braces and brackets balance outside strings.
func checkTerraform(t *testing.T, b []byte) {
	t.Helper()
	src := string(b)
	for _, m := range heredocRe.FindAllStringSubmatch(src, -1) {
		doc := interpRe.ReplaceAllString(m[1], "x")
		if !json.Valid([]byte(doc)) {
			t.Errorf("heredoc is not JSON:\n%s", m[1])
		}
	}
	declared := map[string]bool{}
	for _, m := range varDeclRe.FindAllStringSubmatch(src, -1) {
		declared[m[1]] = true
	}
	for _, m := range varRefRe.FindAllStringSubmatch(src, -1) {
		if !declared[m[1]] {
			t.Errorf("var.%s is not declared", m[1])
		}
	}
	for _, m := range localRe.FindAllStringSubmatch(src, -1) {
		if !regexp.MustCompile(`(?m)^\s+` + m[1] + `\s+=`).MatchString(src) {
			t.Errorf("local.%s is not defined", m[1])
		}
	}
	checkBalanced(t, heredocRe.ReplaceAllString(src, `""`))
}

func checkBalanced(t *testing.T, src string) {
	t.Helper()
	var stack []rune
	inString := false
	pairs := map[rune]rune{'}': '{', ']': '['}
	for i, c := range src {
		switch {
		case inString && c == '\\':
			continue
		case c == '"' && (i == 0 || src[i-1] != '\\'):
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			stack = append(stack, c)
		case c == '}' || c == ']':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				t.Fatalf("unbalanced %c at byte %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 || inString {
		t.Errorf("unbalanced braces or strings at end: %q, in string %v", string(stack), inString)
	}
}

// The golden files are real: a golden key policy differs from another
// tenant's.
func TestArtifactsDependOnModel(t *testing.T) {
	ms := goldenModels(t)
	if strings.Contains(string(ms["direct"].KeyPolicy().JSON()), "role/byok-tenant-42") {
		t.Errorf("direct key policy names the customer role")
	}
	if !strings.Contains(string(ms["assumed-role"].TrustPolicy().JSON()), testExternalID) {
		t.Errorf("trust policy lacks the External ID")
	}
}
