package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	kptr "k8s.io/utils/ptr"
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

// kube is the cluster connection every command shares: kubectl's own
// connection flags (cli-runtime's ConfigFlags) on the root command, so they
// work before or after the verb and mean what they mean to kubectl.
type kubeFlags struct {
	flags *genericclioptions.ConfigFlags
}

func newKube() *kubeFlags {
	f := genericclioptions.NewConfigFlags(false)
	// A person is waiting: kubectl's default is no timeout at all.
	f.Timeout = kptr.To("30s")
	// The client does its own discovery; a disk cache flag would do nothing.
	f.CacheDir = nil
	return &kubeFlags{flags: f}
}

func (k *kubeFlags) addFlags(f *pflag.FlagSet) { k.flags.AddFlags(f) }

// namespace is -n as given, "" when not given (not the context's).
func (k *kubeFlags) namespace() string { return kptr.Deref(k.flags.Namespace, "") }

// ns is the namespace to work in: -n, else the context's, else "default".
func (k *kubeFlags) ns() (string, error) {
	ns, _, err := k.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("cannot read the kubeconfig: %w", err)
	}
	return ns, nil
}

// restConfig is the connection of the current (or --context) context with
// every flag applied.
func (k *kubeFlags) restConfig() (*rest.Config, error) {
	// Without any kubeconfig clientcmd quietly points at localhost:8080;
	// say what is missing instead (in a pod the in-cluster config applies).
	if kptr.Deref(k.flags.APIServer, "") == "" && os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		raw, err := k.flags.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return nil, fmt.Errorf("cannot read the kubeconfig: %w", err)
		}
		if len(raw.Clusters) == 0 {
			return nil, errors.New("no cluster configured: no kubeconfig at --kubeconfig, $KUBECONFIG or ~/.kube/config, and no --server")
		}
	}
	cfg, err := k.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the cluster: %w", err)
	}
	cfg.UserAgent = "kubectl-peering/" + version.Version
	return cfg, nil
}

// client connects to the cluster.
func (k *kubeFlags) client() (client.Client, error) {
	cfg, err := k.restConfig()
	if err != nil {
		return nil, err
	}
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
		s := st.Status()
		// Discovery (which group serves peering.dev) gets no message with
		// a refusal: most often an impersonation the user may not make.
		if s.Message == "" || s.Message == "unknown" {
			if s.Code == http.StatusForbidden {
				return fmt.Errorf("the API server refused the request (403 Forbidden) without saying why; with --as or --as-group, your own user must be allowed to impersonate them (kubectl auth can-i impersonate users/NAME): %w", err)
			}
			return fmt.Errorf("the API server answered %d %s without saying why: %w", s.Code, s.Reason, err)
		}
		// The API server's or the webhook's own words, unchanged.
		return errors.New(s.Message)
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
