package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
	"github.com/peering-operator/peering-operator/internal/version"
)

// scheme knows only the peering.dev kinds: the plugin reads and writes
// nothing else, and a small scheme keeps the binary small.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(peeringv1.AddToScheme(s))
	return s
}()

// newKubeClient builds the API client; tests swap it to put an
// interceptor between a command and the API server.
var newKubeClient = func(cfg *rest.Config) (client.Client, error) {
	return client.New(cfg, client.Options{Scheme: scheme})
}

// kubeFlags are kubectl's connection flags. k8s.io/cli-runtime is not in
// the module graph, so they are built on client-go's clientcmd, with the
// same names and the same precedence (flag, then $KUBECONFIG, then
// ~/.kube/config).
type kubeFlags struct {
	kubeconfig    string
	context       string
	namespace     string
	allNamespaces bool
	timeout       time.Duration
}

// add registers the flags; nsUsage describes -n, "" for commands that
// work on cluster-scoped objects or across namespaces only.
func (k *kubeFlags) add(f *pflag.FlagSet, nsUsage string) {
	f.StringVar(&k.kubeconfig, "kubeconfig", "", "path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&k.context, "context", "", "the kubeconfig context to use")
	if nsUsage != "" {
		f.StringVarP(&k.namespace, "namespace", "n", "", nsUsage)
	}
	f.DurationVar(&k.timeout, "request-timeout", 30*time.Second, "longest wait for one answer from the API server")
}

// addAllNamespaces adds -A for the commands that can list across namespaces.
func (k *kubeFlags) addAllNamespaces(f *pflag.FlagSet, usage string) {
	f.BoolVarP(&k.allNamespaces, "all-namespaces", "A", false, usage)
}

func (k *kubeFlags) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: k.context}
	if k.namespace != "" {
		overrides.Context.Namespace = k.namespace
	}
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
}

// ns is the namespace to work in: -n, else the context's, else "default".
func (k *kubeFlags) ns() (string, error) {
	ns, _, err := k.clientConfig().Namespace()
	if err != nil {
		return "", fmt.Errorf("cannot read the kubeconfig: %w", err)
	}
	return ns, nil
}

// client connects to the cluster of the current (or --context) context.
func (k *kubeFlags) client() (client.Client, error) {
	cfg, err := k.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the cluster: %w", err)
	}
	cfg.UserAgent = "kubectl-peering/" + version.Version
	cfg.Timeout = k.timeout
	c, err := newKubeClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the cluster at %s: %w", cfg.Host, err)
	}
	return c, nil
}

// kubeErr makes API errors a NOC can act on: a missing CRD means the
// operator is not installed, a forbidden request names what is missing.
// The API server's own message is kept as is.
func kubeErr(err error) error {
	if err == nil {
		return nil
	}
	if meta.IsNoMatchError(err) || (apierrors.IsNotFound(err) && strings.Contains(err.Error(), "the server could not find the requested resource")) {
		return fmt.Errorf("the cluster does not know peering.dev/v1alpha1: is peering-operator installed (its CRDs)? (%w)", err)
	}
	var st apierrors.APIStatus
	if errors.As(err, &st) {
		// The API server's or the webhook's own words, unchanged.
		return errors.New(st.Status().Message)
	}
	return err
}

// nsClient is the namespace and a client, for commands that act on one
// namespaced object.
func (k *kubeFlags) nsClient() (string, client.Client, error) {
	ns, err := k.ns()
	if err != nil {
		return "", nil, err
	}
	c, err := k.client()
	return ns, c, err
}
