// Command kubectl-peering is the kubectl plugin of peering-operator:
// installed on the PATH (go install ./cmd/kubectl-peering), it runs as
// `kubectl peering COMMAND`.
//
// Each subcommand lives in its own file with a constructor
// func(streams) *cobra.Command, listed in subcommands below.
package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/peering-operator/peering-operator/internal/version"
)

// subcommands are the plugin's commands, one file each, in the order of a
// peer's life: add it, check it, decide, watch, find the next ones.
var subcommands = []func(streams) *cobra.Command{
	newNewCmd,
	newValidateCmd,
	newApproveCmd,
	newDenyCmd,
	newAcceptCmd,
	newClearCmd,
	newDrainCmd,
	newUndrainCmd,
	newStatusCmd,
	newCandidatesCmd,
	newReportCmd,
	newFilterCmd,
}

// now is the plugin's clock. Tests replace it so that uptimes, approval
// times and cache ages in golden files do not move.
var now = time.Now

// streams are where a command reads and writes, so tests can capture them.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
}

func main() {
	s := streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}
	if err := newRootCmd(s).Execute(); err != nil {
		fmt.Fprintln(s.Err, "error:", err)
		os.Exit(1)
	}
}

func newRootCmd(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubectl-peering",
		Short: "Manage BGP peering with peering-operator",
		Long: `kubectl peering works with peering-operator's PeeringRequests and with the
data behind them (PeeringDB, IRR).`,
		Annotations: map[string]string{
			// Help and usage say "kubectl peering", which is how users call it.
			cobra.CommandDisplayNameAnnotation: "kubectl peering",
		},
		Version:       version.Version,
		SilenceUsage:  true, // a failed run prints the error, not the usage
		SilenceErrors: true, // main prints it, once
	}
	// kubectl plugins get no shell completion from a "completion" command.
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	for _, sub := range subcommands {
		root.AddCommand(sub(s))
	}
	return root
}
