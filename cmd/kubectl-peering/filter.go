package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/peering-operator/peering-operator/internal/irr"
	"github.com/peering-operator/peering-operator/internal/policy"
)

type filterOptions struct {
	servers       []string
	sources       []string
	v6, v4        bool
	maxLength     int
	moreSpecifics int
	name          string
	timeout       time.Duration
	applyPolicy   bool
	noA           bool
	stats         bool
}

func newFilterCmd(_ genericiooptions.IOStreams, _ *kubeFlags) *cobra.Command {
	o := filterOptions{}
	cmd := &cobra.Command{
		Use:   "filter AS-SET|ASN...",
		Short: "Print the IRR prefix filter of AS-SETs and ASNs, as bgpq4 -A -j does",
		Long: `Expand AS-SETs and ASNs through an IRR server and print the aggregated prefix
list in bgpq4's JSON shape, entry for entry what

  bgpq4 -h HOST:PORT -S SOURCES -A -j -l NAME [-6] [-m N] [-R N] AS-SET...

prints, so the two can be diffed. An object may be pinned to a source
(RIPE::AS-RETN), as PeeringDB's irr_as_set field does.

With --policy, bogons and prefixes longer than the length limit (/24 and /48,
or --max-length) are removed first: the filter the operator would configure.`,
		Example: `  kubectl peering filter AS-CLOUDFLARE --irr rr.ntt.net:43 --sources RIPE,ARIN,RADB
  kubectl peering filter -6 RIPE::AS-RETN RIPE::AS-RETN6 --name AS9002-v6
  kubectl peering filter AS3320:AS-DTAG --max-length 24 --more-specifics 24 --policy`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, args)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.servers, "irr", []string{"rr.ntt.net:43"}, "IRR whois servers as HOST:PORT, tried in order")
	f.StringSliceVar(&o.sources, "sources", nil, "IRR sources to use, in priority order (default: the server's)")
	f.BoolVarP(&o.v6, "ipv6", "6", false, "IPv6 prefixes")
	f.BoolVarP(&o.v4, "ipv4", "4", false, "IPv4 prefixes (the default)")
	f.IntVarP(&o.maxLength, "max-length", "m", 0, "drop prefixes longer than this (bgpq4 -m)")
	f.IntVarP(&o.moreSpecifics, "more-specifics", "R", 0, "also accept more-specifics up to this length (bgpq4 -R)")
	f.StringVarP(&o.name, "name", "l", "NN", "name of the list (bgpq4 -l)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "longest wait for one IRR answer")
	f.BoolVar(&o.applyPolicy, "policy", false, "remove bogons and too-long prefixes first, as the operator does")
	f.BoolVar(&o.noA, "no-a", false, "do not use the server-side !a expansion")
	f.BoolVar(&o.stats, "stats", false, "print expansion statistics to stderr")
	cmd.MarkFlagsMutuallyExclusive("ipv4", "ipv6")
	return cmd
}

func (o *filterOptions) run(cmd *cobra.Command, args []string) error {
	fam, maxBits := 4, 32
	if o.v6 {
		fam, maxBits = 6, 128
	}
	for _, v := range []struct {
		flag string
		n    int
	}{{"--max-length", o.maxLength}, {"--more-specifics", o.moreSpecifics}} {
		if v.n < 0 || v.n > maxBits {
			return fmt.Errorf("%s %d: want 1..%d for IPv%d", v.flag, v.n, maxBits, fam)
		}
	}
	c, err := irr.New(irr.Config{Servers: o.servers, QueryTimeout: o.timeout, DisableA: o.noA})
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	prefixes, st, err := c.Expand(ctx, irr.Query{Sets: args, Family: fam, Sources: o.sources})
	if err != nil {
		return err
	}
	if o.applyPolicy {
		lim := policy.DefaultLimits
		if o.maxLength > 0 {
			lim = policy.Limits{MaxLen4: o.maxLength, MaxLen6: o.maxLength}
		}
		prefixes = policy.Filter(prefixes, lim)
	}
	entries := irr.Aggregate(prefixes, irr.AggregateOptions{MaxLength: o.maxLength, MoreSpecifics: o.moreSpecifics})
	if o.stats {
		fmt.Fprintf(cmd.ErrOrStderr(), "server %s: %d prefixes from %d origin ASNs, %d entries, %d queries, %s",
			st.Server, len(prefixes), st.ASNs, len(entries), st.Queries, st.Duration.Round(time.Millisecond))
		if st.ServerSideA {
			fmt.Fprint(cmd.ErrOrStderr(), ", expanded by the server (!a)")
		}
		fmt.Fprintln(cmd.ErrOrStderr())
		if len(st.NotFound) > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "not found: %s\n", strings.Join(st.NotFound, " "))
		}
	}
	return irr.WriteJSON(cmd.OutOrStdout(), o.name, entries)
}
