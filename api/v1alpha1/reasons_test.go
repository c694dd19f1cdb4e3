package v1alpha1_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestReasonsInTheDocs: every reason the README's table of Ready reasons
// names is a constant of reasons.go, so the docs (and the alerts and
// scripts written from them) use the names the operator sets.
func TestReasonsInTheDocs(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "reasons.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			v, _ := strconv.Unquote(lit.Value)
			known[v] = true
		}
		return true
	})
	if len(known) < 50 {
		t.Fatalf("read only %d reasons from reasons.go", len(known))
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "| Ready reason | meaning | kstatus |")
	if !ok {
		t.Fatal("the README has no table of Ready reasons")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	name := regexp.MustCompile("`([A-Z][A-Za-z]+)`")
	n := 0
	for line := range strings.SplitSeq(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 2 {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			n++
			if !known[m[1]] {
				t.Errorf("the README names Ready reason %q, which is no constant in api/v1alpha1/reasons.go", m[1])
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d reasons in the README's table", n)
	}
}
