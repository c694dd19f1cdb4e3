// Command devenv is `make dev`: it starts etcd and kube-apiserver (built from
// their Go modules into bin/) on loopback, installs the CRDs, runs the
// operator, applies the samples and prints how to look at them. Ctrl-C, or
// `make dev-down` from another shell, stops every process it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/peering-operator/peering-operator/internal/irr/irrtest"
	"github.com/peering-operator/peering-operator/internal/peeringdb/pdbtest"
	"github.com/peering-operator/peering-operator/internal/testenv"
)

func main() {
	down := flag.Bool("down", false, "stop a running `make dev` (from its pid file) and exit")
	flag.Parse()
	root, err := testenv.RepoRoot()
	if err == nil {
		dir := filepath.Join(root, ".dev")
		if *down {
			err = stop(dir)
		} else {
			err = run(root, dir)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "make dev:", err)
		os.Exit(1)
	}
}

// run starts everything and blocks until a signal.
func run(root, dir string) error {
	if pid, ok := running(dir); ok {
		return fmt.Errorf("already running as pid %d; stop it with `make dev-down`", pid)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	step("starting etcd and kube-apiserver on 127.0.0.1")
	env, cfg, err := testenv.Start(testenv.WithWebhooks())
	if err != nil {
		return err
	}
	defer func() {
		step("stopping kube-apiserver and etcd")
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the control plane:", err)
		}
	}()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := testenv.WriteKubeconfig(cfg, kubeconfig); err != nil {
		return err
	}
	if err := writePIDs(dir); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(dir, "pids"))

	step("starting a PeeringDB API server with the real sample (internal/peeringdb/pdbtest/sample)")
	pdb, err := pdbtest.Start("127.0.0.1:0", pdbtest.Options{})
	if err != nil {
		return fmt.Errorf("failed to start the PeeringDB test server: %w", err)
	}
	defer pdb.Close()
	if err := pdb.AddLabIX(pdbtest.LabPorts...); err != nil {
		return err
	}

	step("starting an IRR whois server with RPSL fixtures (internal/irr/irrtest/fixtures)")
	irrSrv, err := irrtest.Start("127.0.0.1:0", irrtest.DefaultFixture())
	if err != nil {
		return fmt.Errorf("failed to start the IRR test server: %w", err)
	}
	defer irrSrv.Close()

	step("starting a GoBGP route server (gRPC 127.0.0.1:50051, BGP 127.0.0.1:1179) and three GoBGP peers on the lab IX")
	stopBGP, err := startLab(ctx, dir)
	if err != nil {
		return err
	}
	defer stopBGP()

	step("starting FRR with sshd in network namespaces (192.0.2.0/24) and an FRR peer, if this machine can")
	stopFRR, frrObjects := startFRRLab(ctx)
	if stopFRR != nil {
		defer stopFRR()
	}
	if err := pdb.AddFRRLabIX(); err != nil {
		return err
	}

	step("starting a dev OIDC issuer for the Peering API on 127.0.0.1")
	papi, err := startPeeringAPI(dir)
	if err != nil {
		return err
	}
	defer papi.issuer.Close()

	step("starting the operator (log: .dev/manager.log)")
	wh := env.WebhookInstallOptions
	mgr, err := startManager(root, dir, kubeconfig, append([]string{"--peeringdb-url=" + pdb.BaseURL, "--irr-servers=" + irrSrv.Addr(),
		"--webhook-host=" + wh.LocalServingHost, fmt.Sprintf("--webhook-port=%d", wh.LocalServingPort), "--webhook-cert-dir=" + wh.LocalServingCertDir}, papi.args...)...)
	if err != nil {
		return err
	}
	defer func() {
		step("stopping the operator")
		_ = mgr.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = mgr.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = mgr.Process.Kill()
		}
	}()
	if err := writePIDs(dir, mgr.Process.Pid); err != nil {
		return err
	}

	step("applying config/samples")
	kubectl := filepath.Join(root, "bin", "kubectl")
	// File by file, in dependency order, so nothing reports a missing
	// Router or IXPort for the first second.
	args := []string{"--kubeconfig", kubeconfig, "apply"}
	samples, _ := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	lab, _ := filepath.Glob(filepath.Join(root, "config", "samples", "lab", "*.yaml"))
	samples = append(samples, lab...)
	sort.SliceStable(samples, func(i, j int) bool { return sampleOrder(samples[i]) < sampleOrder(samples[j]) })
	for _, f := range samples {
		if filepath.Base(f) != "kustomization.yaml" {
			args = append(args, "-f", f)
		}
	}
	apply := exec.CommandContext(ctx, kubectl, args...)
	apply.Stdout, apply.Stderr = os.Stdout, os.Stderr
	if err := apply.Run(); err != nil {
		return fmt.Errorf("failed to apply the samples: %w", err)
	}
	labRequests := []string{"as8763-lab", "as6939-lab", "as8560-lab"}
	if frrObjects != "" {
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "-f", "-")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(frrObjects), os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("failed to apply the FRR lab: %w", err)
		}
		labRequests = append(labRequests, "as8763-frr-lab", "as6695-frr-lab")
	}
	step("approving the lab requests (the DE-CIX ones wait for you)")
	for _, pr := range labRequests {
		patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Approved","status":"True","reason":"MakeDev","message":"approved by make dev for the lab","lastTransitionTime":%q}]}}`,
			time.Now().UTC().Format(time.RFC3339))
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "patch", "pr", pr, "--subresource=status", "--type=merge", "-p", patch)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("failed to approve %s: %w", pr, err)
		}
	}

	fmt.Printf(`
peering-operator is running. In another shell:

  export KUBECONFIG=%s
  export PATH=%s:$PATH

  kubectl get peering                      # Routers, IXPorts and PeeringRequests
  kubectl get pr                           # the NOC's view: ASN, peer, IX, approval, sessions, state
                                           # (*-lab: approved, Established with GoBGP peers on loopback)
  kubectl get pr as8763-lab -o yaml        # sessions: state, uptime, received/accepted/limit
  kubectl describe pr as8763-decix-fra     # conditions and events of one request
  kubectl wait --for=condition=Ready ixport/decix-fra
  kubectl peering approve as8763-decix-fra --reason "demo"   # the webhook checks verb approve on the IXPort

PeeringDB (sample data): %s/net?asn=8763
  kubectl peering candidates --top 20 --peeringdb-url %s   # the coordinator's hit list
  kubectl peering email as8763-decix-fra --peeringdb-url %s
  kubectl get peeringreports               # a report a minute after each change (--report-interval=1m here)
IRR whois: %s   (bgpq4 -h %s -S RIPE -A -j -l x AS-DENIC; kubectl peering filter --irr %s AS-DENIC)
Operator log: %s
Ctrl-C here, or `+"`make dev-down`"+` elsewhere, stops everything.
`, kubeconfig, filepath.Join(root, "bin"), pdb.BaseURL, pdb.BaseURL, pdb.BaseURL, irrSrv.Addr(), irrSrv.Addr(), irrSrv.Addr(), filepath.Join(dir, "manager.log"))
	fmt.Print(papi.usage())

	exited := make(chan error, 1)
	go func() { exited <- mgr.Wait() }()
	select {
	case <-ctx.Done():
		return nil
	case err := <-exited:
		return fmt.Errorf("the operator exited (%v); see %s", err, filepath.Join(dir, "manager.log"))
	}
}

// sampleOrder sorts Routers before IXPorts before PeeringRequests.
func sampleOrder(path string) int {
	for i, p := range []string{"router_", "ixport_"} {
		if strings.HasPrefix(filepath.Base(path), p) {
			return i
		}
	}
	return 2
}

// startManager runs bin/manager against the local API server.
func startManager(root, dir, kubeconfig string, args ...string) (*exec.Cmd, error) {
	log, err := os.Create(filepath.Join(dir, "manager.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(root, "bin", "manager"), append([]string{
		"--metrics-bind-address=0", "--health-probe-bind-address=0", "--router-poll-interval=5s",
		"--gobgp-passive-neighbors", "--gobgp-connect-retry=2s",
		// A report snapshot a minute after each change, not an hour.
		"--retry-interval=5s", "--peeringdb-requests-per-minute=600", "--report-interval=1m"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start bin/manager (run `make build`): %w", err)
	}
	return cmd, nil
}

// writePIDs records this process and its children so `make dev-down` can
// stop them even if this process is killed hard.
func writePIDs(dir string, extra ...int) error {
	pids := []string{strconv.Itoa(os.Getpid())}
	seen := map[int]bool{}
	for _, p := range append(children(), extra...) {
		if !seen[p] {
			seen[p] = true
			pids = append(pids, strconv.Itoa(p))
		}
	}
	return os.WriteFile(filepath.Join(dir, "pids"), []byte(strings.Join(pids, "\n")+"\n"), 0o644)
}

// children lists the direct children of this process (etcd, kube-apiserver).
func children() []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", os.Getpid()))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// running returns the pid of a live `make dev`, if any.
func running(dir string) (int, bool) {
	pids := readPIDs(dir)
	if len(pids) == 0 {
		return 0, false
	}
	return pids[0], syscall.Kill(pids[0], 0) == nil
}

func readPIDs(dir string) []int {
	b, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil && p > 1 {
			out = append(out, p)
		}
	}
	return out
}

// stop asks `make dev` to shut down cleanly, then kills what is left.
func stop(dir string) error {
	pids := readPIDs(dir)
	if len(pids) == 0 {
		fmt.Println("make dev is not running")
		return nil
	}
	_ = syscall.Kill(pids[0], syscall.SIGTERM)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && alive(pids) {
		time.Sleep(200 * time.Millisecond)
	}
	var errs []error
	for _, p := range pids {
		if syscall.Kill(p, 0) == nil {
			if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
				errs = append(errs, fmt.Errorf("kill %d: %w", p, err))
			}
		}
	}
	_ = os.Remove(filepath.Join(dir, "pids"))
	fmt.Println("make dev stopped")
	return errors.Join(errs...)
}

func alive(pids []int) bool {
	for _, p := range pids {
		if syscall.Kill(p, 0) == nil {
			return true
		}
	}
	return false
}

func step(msg string) { fmt.Println("==>", msg) }
