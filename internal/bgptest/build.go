// Package bgptest runs real GoBGP speakers (gobgpd built from the GoBGP
// module pinned in go.mod) on loopback addresses, for tests and for
// `make dev`: a route server, ordinary peers that announce prefixes, and a
// tiny RPKI-to-Router cache that serves a fixed VRP list.
//
// Every process is started by pid and stopped by pid; nothing listens on or
// dials anything but 127.0.0.0/8 and ::1 unless a caller asks for it.
package bgptest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
)

// GoBGPModule is the module the harness builds gobgpd from.
const GoBGPModule = "github.com/osrg/gobgp/v3"

// EnvGoBGPD names an environment variable that points at a prebuilt gobgpd;
// when set, nothing is built.
const EnvGoBGPD = "PEERING_OPERATOR_GOBGPD"

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// GoBGPVersion returns the version of the GoBGP module go.mod pins: from
// this binary's build info, or (test binaries carry no module list) from
// `go list -m`; "unknown" when neither knows.
func GoBGPVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == GoBGPModule {
				if m.Replace != nil {
					return m.Replace.Version
				}
				return m.Version
			}
		}
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", GoBGPModule).Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "unknown"
}

// GoBGPD returns the path of a gobgpd binary. It is built once per machine
// and GoBGP/Go version into the user cache directory
// (…/peering-operator/gobgpd-<gobgp version>-<go version>/gobgpd) and reused
// afterwards; a file lock keeps concurrent test binaries from building it
// twice. The build runs `go build` in the current directory, which must be
// inside this module (tests run in their package directory).
func GoBGPD(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvGoBGPD); p != "" {
		return p, nil
	}
	buildOnce.Do(func() { buildPath, buildErr = buildGoBGPD(ctx) })
	return buildPath, buildErr
}

func buildGoBGPD(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	version := GoBGPVersion()
	dir := filepath.Join(cache, "peering-operator", fmt.Sprintf("gobgpd-%s-%s", version, runtime.Version()))
	bin := filepath.Join(dir, "gobgpd")
	if version != "unknown" && isExecutable(bin) {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	// Two test binaries (this package and the driver's) often start at the
	// same time; the second one waits here and then finds the binary.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if version != "unknown" && isExecutable(bin) {
		return bin, nil
	}
	tmp := fmt.Sprintf("%s.%d.tmp", bin, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, GoBGPModule+"/cmd/gobgpd")
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build gobgpd: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	return bin, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// errExited reports that gobgpd ended before it became ready.
var errExited = errors.New("gobgpd exited")
