// Package clitest runs the CLI drivers against recorded device sessions
// (scrapligo's file transport) and checks what they typed.
package clitest

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scrapli/scrapligo/transport"

	"github.com/peering-operator/peering-operator/internal/router/cli"
)

// Recording is one recorded session: the file holds what the device
// prints, our echoed input included.
type Recording struct {
	Path string
	File *transport.File
}

// Open returns a driver configuration that "connects" to
// testdata/<fixture>.
func Open(t testing.TB, fixture string) (cli.Config, *Recording) {
	t.Helper()
	ft, _ := transport.NewFileTransport()
	ft.F = filepath.Join("testdata", fixture)
	// The file transport returns one byte per read: poll fast. A command
	// the recording does not expect waits for its echo until the
	// timeout.
	cfg := cli.Config{Host: "recorded", Username: "po", Password: "login-pw", Transport: ft,
		CommandTimeout: 10 * time.Second, ReadDelay: time.Nanosecond}
	return cfg, &Recording{Path: ft.F, File: ft}
}

// Sent lists the lines written to the device.
func (r *Recording) Sent() []string {
	var out []string
	for _, l := range strings.Split(string(bytes.Join(r.File.Writes, nil)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// Expected lists what the recording shows typed after each prompt
// (matched by prompt), i.e. exactly what the driver must send.
func (r *Recording) Expected(t testing.TB, prompt *regexp.Regexp) []string {
	t.Helper()
	b, err := os.ReadFile(r.Path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds []string
	for _, l := range strings.Split(string(b), "\n") {
		if loc := prompt.FindStringIndex(l); loc != nil && loc[0] == 0 {
			if c := strings.TrimSpace(l[loc[1]:]); c != "" {
				cmds = append(cmds, c)
			}
		}
	}
	return cmds
}

// AssertSent checks that the driver typed exactly what the recording
// shows, and returns it.
func (r *Recording) AssertSent(t testing.TB, prompt *regexp.Regexp) []string {
	t.Helper()
	got, want := r.Sent(), r.Expected(t, prompt)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sent:\n%s\n--- the recording expects:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return got
}

// Index returns the position of line in sent, failing the test if absent.
func Index(t testing.TB, sent []string, line string) int {
	t.Helper()
	for i, l := range sent {
		if l == line {
			return i
		}
	}
	t.Fatalf("not sent: %q", line)
	return -1
}

// Golden compares got with testdata/name, rewriting it when update is set.
func Golden(t testing.TB, update bool, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-update to accept):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
