// Command kubectl-peering is the kubectl plugin of peering-operator:
// installed on the PATH (go install ./cmd/kubectl-peering), it runs as
// `kubectl peering COMMAND`.
//
// Each subcommand lives in its own file with a constructor
// func(genericiooptions.IOStreams, *kubeFlags) *cobra.Command, listed in
// subcommands below. kubectl's connection flags are on the root command.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/peering-operator/peering-operator/internal/version"
)

// subcommands are the plugin's commands, one file each, in the order of a
// peer's life: add it, check it, decide, watch, find the next ones.
var subcommands = []func(genericiooptions.IOStreams, *kubeFlags) *cobra.Command{
	newNewCmd,
	newValidateCmd,
	newApproveCmd,
	newDenyCmd,
	newRequestCmd,
	newAcceptCmd,
	newClearCmd,
	newDrainCmd,
	newUndrainCmd,
	newStatusCmd,
	newCandidatesCmd,
	newReportCmd,
	newEmailCmd,
	newFilterCmd,
}

// now is the plugin's clock. Tests replace it so that uptimes, approval
// times and cache ages in golden files do not move.
var now = time.Now

func main() {
	s := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	if err := newRootCmd(s).Execute(); err != nil {
		fmt.Fprintln(s.ErrOut, "error:", err)
		os.Exit(1)
	}
}

func newRootCmd(s genericiooptions.IOStreams) *cobra.Command {
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
	// cobra's "completion SHELL" serves kubectl-peering run by its own
	// name; `kubectl peering` completes through kubectl_complete-peering,
	// which calls the hidden __complete command.
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	k := newKube()
	k.addFlags(root.PersistentFlags())
	k.registerCompletions(root)
	for _, sub := range subcommands {
		root.AddCommand(sub(s, k))
	}
	return root
}
