package main

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// Shell completion asks the cluster with the flags typed so far (--context,
// -n, --as ...). A completion that cannot reach it offers nothing rather
// than an error: the shell would print it in the middle of the line.

// completionTimeout keeps a tab press from hanging on an unreachable cluster.
const completionTimeout = 5 * time.Second

// registerCompletions completes kubectl's flags that name things in the
// kubeconfig or the cluster.
func (k *kubeFlags) registerCompletions(root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("namespace", k.completeNamespaces)
	_ = root.RegisterFlagCompletionFunc("context", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		raw, err := k.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(keys(raw.Contexts), prefix), cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("cluster", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		raw, err := k.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(keys(raw.Clusters), prefix), cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("user", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		raw, err := k.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(keys(raw.AuthInfos), prefix), cobra.ShellCompDirectiveNoFileComp
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func withPrefix(names []string, prefix string) []string {
	return slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, prefix) })
}

// list lists objects with a short deadline for completion.
func (k *kubeFlags) list(l client.ObjectList, opts ...client.ListOption) bool {
	c, err := k.client()
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), completionTimeout)
	defer cancel()
	return c.List(ctx, l, opts...) == nil
}

// completeNamespaces lists the namespaces by metadata only: the plugin's
// scheme knows no core kinds, and names are all completion needs.
func (k *kubeFlags) completeNamespaces(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("NamespaceList"))
	l.APIVersion = "v1"
	if !k.list(l) {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, n := range l.Items {
		names = append(names, n.Name)
	}
	return withPrefix(names, prefix), cobra.ShellCompDirectiveNoFileComp
}

// requestNames are the PeeringRequests in the namespace (-n or the
// context's).
func (k *kubeFlags) requestNames(prefix string) []string {
	ns, err := k.ns()
	if err != nil {
		return nil
	}
	var l peeringv1.PeeringRequestList
	if !k.list(&l, client.InNamespace(ns)) {
		return nil
	}
	var names []string
	for _, pr := range l.Items {
		names = append(names, pr.Name)
	}
	slices.Sort(names)
	return withPrefix(names, prefix)
}

// completeRequests completes the one NAME of approve, deny, accept, clear
// and status.
func (k *kubeFlags) completeRequests(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return k.requestNames(prefix), cobra.ShellCompDirectiveNoFileComp
}

// completeIXPorts completes an IXPort name (--ix-port).
func (k *kubeFlags) completeIXPorts(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	return withPrefix(k.ixPortNames(), prefix), cobra.ShellCompDirectiveNoFileComp
}

func (k *kubeFlags) ixPortNames() []string {
	var l peeringv1.IXPortList
	if !k.list(&l) {
		return nil
	}
	var names []string
	for _, p := range l.Items {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	return names
}

// completeDrainTargets completes drain and undrain: a request, or
// ixport/NAME, or router/NAME. Until a kind is typed the two prefixes are
// offered too, without a trailing space.
func (k *kubeFlags) completeDrainTargets(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	kind, _, typed := strings.Cut(prefix, "/")
	switch {
	case typed && kind == "ixport":
		return withPrefix(prefixed("ixport/", k.ixPortNames()), prefix), cobra.ShellCompDirectiveNoFileComp
	case typed && kind == "router":
		var l peeringv1.RouterList
		var names []string
		if k.list(&l) {
			for _, r := range l.Items {
				names = append(names, "router/"+r.Name)
			}
		}
		slices.Sort(names)
		return withPrefix(names, prefix), cobra.ShellCompDirectiveNoFileComp
	case typed:
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	kinds := withPrefix([]string{"ixport/", "router/"}, prefix)
	if len(kinds) == 0 {
		return k.requestNames(prefix), cobra.ShellCompDirectiveNoFileComp
	}
	return append(k.requestNames(prefix), kinds...), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
}

func prefixed(p string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = p + n
	}
	return out
}
