package irr_test

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/peering-operator/peering-operator/internal/irr"
)

// bgpq4Path finds Debian's bgpq4, the oracle. Locally a missing bgpq4 skips
// the test; in CI (CI=true) it fails it, so the oracle cannot silently drop
// out of the pipeline.
func bgpq4Path(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("bgpq4")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("bgpq4 is not installed, and CI=true: install it (apt-get install -y bgpq4)")
		}
		tb.Skip("bgpq4 is not installed (apt-get install -y bgpq4); CI=true makes this a failure")
	}
	return p
}

// bgpq4Opts are the bgpq4 switches our tests vary.
type bgpq4Opts struct {
	sources   []string
	v6        bool
	maxLen    int // -m
	moreSpecs int // -R
}

func (o bgpq4Opts) args(addr, name string, objects []string) []string {
	args := []string{"-h", addr, "-A", "-j", "-l", name}
	if len(o.sources) > 0 {
		args = append(args, "-S", strings.Join(o.sources, ","))
	}
	if o.v6 {
		args = append(args, "-6")
	}
	if o.maxLen > 0 {
		args = append(args, "-m", strconv.Itoa(o.maxLen))
	}
	if o.moreSpecs > 0 {
		args = append(args, "-R", strconv.Itoa(o.moreSpecs))
	}
	return append(args, objects...)
}

// runBGPQ4 runs bgpq4 against addr and returns its raw JSON output and the
// parsed entries.
func runBGPQ4(tb testing.TB, addr string, o bgpq4Opts, objects ...string) ([]byte, []irr.Entry) {
	tb.Helper()
	cmd := exec.Command(bgpq4Path(tb), o.args(addr, "x", objects)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("bgpq4 %v: %v\n%s", o.args(addr, "x", objects), err, stderr.String())
	}
	lists, err := irr.ParseJSON(out)
	if err != nil {
		tb.Fatalf("bgpq4 output: %v\n%s", err, out)
	}
	return out, lists["x"]
}
