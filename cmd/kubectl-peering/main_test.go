package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// run runs the plugin with args and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestFilterGolden(t *testing.T) {
	srv, err := irrtest.Start("127.0.0.1:0", irrtest.DefaultFixture())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"filter-cloudflare", []string{"AS-CLOUDFLARE", "--sources", "RADB,RIPE"}},
		{"filter-retn-v6", []string{"-6", "RIPE::AS-RETN", "RIPE::AS-RETN6", "--sources", "RIPE,RADB", "--name", "AS9002-v6"}},
		{"filter-dtag-m-R", []string{"AS3320:AS-DTAG", "--sources", "RIPE", "--max-length", "22", "--more-specifics", "24", "-l", "dtag"}},
		{"filter-dtag-policy", []string{"AS3320:AS-DTAG", "--sources", "RIPE", "--policy", "--name", "dtag"}},
		{"filter-empty", []string{"AS-EMPTY", "--sources", "RIPE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := run(t, append([]string{"filter", "--irr", srv.Addr()}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, out)
		})
	}
}

func TestHelp(t *testing.T) {
	out, _, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "help", out)
	for _, want := range []string{"kubectl peering [command]", "filter"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
	out, _, err = run(t, "filter", "--help")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "help-filter", out)
}

func TestFilterErrors(t *testing.T) {
	for _, args := range [][]string{
		{"filter"},                       // no object
		{"filter", "AS-FOO", "-4", "-6"}, // both families
		{"filter", "AS-FOO", "-m", "33"}, // beyond /32
		{"filter", "AS-FOO\n!q", "--irr", "127.0.0.1:1"},
		{"filter", "AS-FOO", "--irr", "127.0.0.1:1", "--timeout", "1s"}, // nothing listens
		{"nonsense"},
	} {
		if _, _, err := run(t, args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// The plugin prints what bgpq4 prints, byte for byte.
func TestFilterMatchesBGPQ4(t *testing.T) {
	bin, err := exec.LookPath("bgpq4")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("bgpq4 is not installed, and CI=true")
		}
		t.Skip("bgpq4 is not installed")
	}
	srv, err := irrtest.Start("127.0.0.1:0", irrtest.DefaultFixture())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, args := range [][]string{
		{"-S", "RADB,RIPE", "-l", "cf", "AS-CLOUDFLARE"},
		{"-6", "-S", "RIPE,RADB", "-l", "retn", "-R", "48", "RIPE::AS-RETN", "RIPE::AS-RETN6"},
		{"-S", "RIPE", "-m", "22", "-R", "24", "AS3320:AS-DTAG", "AS13335"},
	} {
		want, err := exec.Command(bin, append([]string{"-h", srv.Addr(), "-A", "-j"}, args...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		ours := append([]string{"filter", "--irr", srv.Addr()}, args...)
		for i, a := range ours {
			if a == "-S" {
				ours[i] = "--sources"
			}
		}
		got, _, err := run(t, ours...)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%q:\nbgpq4:\n%s\nours:\n%s", args, want, got)
		}
	}
}
