// Command testsummary reads `go test -json` on stdin and prints what a CI
// log needs: each package's result, the full output of every failed test,
// and the skipped tests with their count. With CI=true a skipped test is a
// failure (CI has every prerequisite). It exits 1 on any failure.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

func main() {
	os.Exit(run())
}

func run() int {
	outputs := map[string]*strings.Builder{} // package/test → output
	var pkgs, failed, skipped []string
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	for in.Scan() {
		var e event
		if err := json.Unmarshal(in.Bytes(), &e); err != nil {
			fmt.Println(in.Text()) // not JSON: a build error, say
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			b := outputs[key]
			if b == nil {
				b = &strings.Builder{}
				outputs[key] = b
			}
			b.WriteString(e.Output)
		case "fail":
			if e.Test == "" {
				pkgs = append(pkgs, fmt.Sprintf("FAIL %s %.1fs", e.Package, e.Elapsed))
				fmt.Println(pkgs[len(pkgs)-1]) // progress while the run goes on
			} else {
				failed = append(failed, key)
			}
		case "pass":
			if e.Test == "" {
				pkgs = append(pkgs, fmt.Sprintf("ok   %s %.1fs", e.Package, e.Elapsed))
				fmt.Println(pkgs[len(pkgs)-1])
			}
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, key)
			}
		}
	}
	for _, f := range failed {
		fmt.Printf("\n=== output of failed test %s ===\n%s", f, outputs[f])
	}
	// A package that failed without a failed test (a build error, a
	// panic in TestMain) shows its own output.
	for _, p := range pkgs {
		if !strings.HasPrefix(p, "FAIL") {
			continue
		}
		name := strings.Fields(p)[1]
		if !slices.ContainsFunc(failed, func(f string) bool { return strings.HasPrefix(f, name+" ") }) {
			fmt.Printf("\n=== output of package %s ===\n%s", name, outputs[name+" "])
		}
	}
	fmt.Println("\n== go test summary ==")
	for _, p := range pkgs {
		fmt.Println(p)
	}
	for _, f := range failed {
		fmt.Println("--- FAIL:", f)
	}
	fmt.Printf("skipped tests: %d\n", len(skipped))
	for _, s := range skipped {
		fmt.Println("--- SKIP:", s, strings.TrimSpace(lastLine(outputs[s])))
	}
	bad := len(failed) > 0 || slices.ContainsFunc(pkgs, func(p string) bool { return strings.HasPrefix(p, "FAIL") })
	if os.Getenv("CI") == "true" && len(skipped) > 0 {
		fmt.Println("CI=true: a skipped test is a failure (CI has every prerequisite)")
		bad = true
	}
	if bad {
		return 1
	}
	return 0
}

func lastLine(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	return lines[len(lines)-1]
}
