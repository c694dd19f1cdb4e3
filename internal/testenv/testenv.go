// Package testenv starts the real kube-apiserver and etcd from bin/ (built by
// hack/build-controlplane.sh) with the project's CRDs installed, for tests
// and for `make dev`.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	peeringv1 "github.com/peering-operator/peering-operator/api/v1alpha1"
)

// Scheme knows the built-in kinds and the peering.dev kinds.
var Scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(peeringv1.AddToScheme(s))
	return s
}()

// RepoRoot returns the directory holding go.mod, found upwards from the
// working directory (go test runs in the package directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "api", "v1alpha1")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the repository root (go.mod with api/v1alpha1) above the working directory")
		}
		dir = parent
	}
}

// Option changes the environment.
type Option func(root string, env *envtest.Environment)

// WithWebhooks installs the operator's webhook configurations
// (config/webhook), pointed at a local server envtest generates serving
// certificates for: run the manager's webhook server on
// env.WebhookInstallOptions.LocalServingHost/Port/CertDir.
func WithWebhooks() Option {
	return func(root string, env *envtest.Environment) {
		env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}}
	}
}

// New returns an envtest environment on the binaries in bin/ with the CRDs
// from config/crd/bases. It fails with a clear message when the binaries
// are missing instead of trying to download them.
func New(opts ...Option) (*envtest.Environment, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("%s is missing in %s: run `make controlplane` (or `make test`) to build it from its Go module", b, assets)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                Scheme,
	}
	for _, o := range opts {
		o(root, env)
	}
	return env, nil
}

// Start starts an environment from New and returns it with an admin config.
func Start(opts ...Option) (*envtest.Environment, *rest.Config, error) {
	env, err := New(opts...)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, fmt.Errorf("failed to start kube-apiserver and etcd from %s: %w", env.BinaryAssetsDirectory, err)
	}
	return env, cfg, nil
}

// RunWithClient is a TestMain for packages that need only the API server:
// it starts it, sets *c to an admin client, runs the tests and stops it.
func RunWithClient(m *testing.M, c *client.Client) int {
	env, cfg, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "failed to stop the API server:", err)
		}
	}()
	if *c, err = client.New(cfg, client.Options{Scheme: Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
