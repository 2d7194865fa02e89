package errcode_test

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/byok-dev/byok/internal/errcode"
	"github.com/byok-dev/byok/kms"
)

// served are the packages whose codes the server answers with.
var served = []string{
	"github.com/byok-dev/byok/internal/server",
	"github.com/byok-dev/byok/internal/control",
	"github.com/byok-dev/byok/internal/monitor",
	"github.com/byok-dev/byok/internal/store",
	"github.com/byok-dev/byok/internal/platform",
	"github.com/byok-dev/byok/internal/auth",
	"github.com/byok-dev/byok/envelope",
}

// unserved are codes of those packages that the server never answers with.
var unserved = map[string]string{
	"schema_too_new": "the server refuses to start on such a database; at run time it is internal",
}

// found is a code and where the source produces it.
type found struct {
	code string
	at   token.Position
}

// TestEveryServedCodeIsRegistered reads the source of the served packages
// for the codes they can produce: Code… constants, the codes of their Error
// values, the codes the server answers literally (apiErr, coded), and the
// KMS classes' codes; each must be in the registry, and each registered
// code must be among them. The server's literal statuses must be the
// registry's.
func TestEveryServedCodeIsRegistered(t *testing.T) {
	pkgs := load(t)
	var codes []found
	for _, p := range pkgs {
		codes = append(codes, constCodes(p)...)
		codes = append(codes, errorValueCodes(p)...)
		codes = append(codes, answeredCodes(t, p)...)
	}
	for c := kms.Class(1); !strings.HasPrefix(c.Code(), "kms_class_"); c++ {
		codes = append(codes, found{code: c.Code(), at: token.Position{Filename: "kms.Class(" + c.String() + ")"}})
	}
	if len(codes) < 50 {
		t.Fatalf("found only %d codes in the source; the scan is broken", len(codes))
	}
	seen := map[string]bool{}
	for _, f := range codes {
		seen[f.code] = true
		if _, ok := errcode.Lookup(f.code); !ok && unserved[f.code] == "" {
			t.Errorf("%s: code %s is not in the registry (internal/errcode/codes.go)", f.at, f.code)
		}
	}
	for _, e := range errcode.All() {
		if !seen[e.Code] {
			t.Errorf("the registry has %s, which no served package produces", e.Code)
		}
	}
}

func load(t *testing.T) []*packages.Package {
	t.Helper()
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedTypes | packages.NeedSyntax | packages.NeedTypesInfo}
	pkgs, err := packages.Load(cfg, served...)
	if err != nil {
		t.Fatal(err)
	}
	if packages.PrintErrors(pkgs) > 0 || len(pkgs) != len(served) {
		t.Fatalf("loading %d packages failed", len(served))
	}
	return pkgs
}

func stringValue(info *types.Info, e ast.Expr) (string, bool) {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

// constCodes are the package's constants named Code….
func constCodes(p *packages.Package) []found {
	var out []found
	scope := p.Types.Scope()
	for _, name := range scope.Names() {
		c, ok := scope.Lookup(name).(*types.Const)
		if !ok || !strings.HasPrefix(name, "Code") || c.Val().Kind() != constant.String {
			continue
		}
		out = append(out, found{constant.StringVal(c.Val()), p.Fset.Position(c.Pos())})
	}
	return out
}

// errorValueCodes are the constant codes of the package's own Error
// values: Error{"code", "message"} or Error{Code: "code"}.
func errorValueCodes(p *packages.Package) []found {
	var out []found
	inspect(p, func(n ast.Node) {
		lit, ok := n.(*ast.CompositeLit)
		if !ok || !isOwnError(p, p.TypesInfo.TypeOf(lit)) || len(lit.Elts) == 0 {
			return
		}
		if code, ok := litCode(p.TypesInfo, lit); ok {
			out = append(out, found{code, p.Fset.Position(lit.Pos())})
		}
	})
	return out
}

func isOwnError(p *packages.Package, t types.Type) bool {
	n, ok := t.(*types.Named)
	return ok && n.Obj().Name() == "Error" && n.Obj().Pkg() == p.Types
}

func litCode(info *types.Info, lit *ast.CompositeLit) (string, bool) {
	if _, keyed := lit.Elts[0].(*ast.KeyValueExpr); !keyed {
		return stringValue(info, lit.Elts[0])
	}
	for _, el := range lit.Elts {
		kv := el.(*ast.KeyValueExpr)
		if k, ok := kv.Key.(*ast.Ident); ok && strings.EqualFold(k.Name, "code") {
			return stringValue(info, kv.Value)
		}
	}
	return "", false
}

// answeredCodes are the constant codes of the server's apiErr(status, code,
// msg) and coded(code, msg) calls; apiErr's status must be the registry's.
func answeredCodes(t *testing.T, p *packages.Package) []found {
	var out []found
	inspect(p, func(n ast.Node) {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return
		}
		fn, ok := call.Fun.(*ast.Ident)
		if !ok {
			return
		}
		at := p.Fset.Position(call.Pos())
		switch {
		case fn.Name == "coded" && len(call.Args) == 2:
			if code, ok := stringValue(p.TypesInfo, call.Args[0]); ok {
				out = append(out, found{code, at})
			}
		case fn.Name == "apiErr" && len(call.Args) == 3:
			code, ok := stringValue(p.TypesInfo, call.Args[1])
			if !ok {
				return
			}
			out = append(out, found{code, at})
			checkStatus(t, p.TypesInfo, call.Args[0], code, at)
		}
	})
	return out
}

func checkStatus(t *testing.T, info *types.Info, arg ast.Expr, code string, at token.Position) {
	t.Helper()
	tv := info.Types[arg]
	if tv.Value == nil {
		t.Errorf("%s: apiErr(%s) takes a status that is not a constant", at, code)
		return
	}
	status, _ := constant.Int64Val(tv.Value)
	if e, ok := errcode.Lookup(code); ok && int64(e.Status) != status {
		t.Errorf("%s: apiErr answers %s with %d; the registry says %d", at, code, status, e.Status)
	}
}

func inspect(p *packages.Package, f func(ast.Node)) {
	for _, file := range p.Syntax {
		ast.Inspect(file, func(n ast.Node) bool {
			if n != nil {
				f(n)
			}
			return true
		})
	}
}
