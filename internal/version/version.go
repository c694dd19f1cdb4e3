// Package version holds the operator's version, set at build time with
// -ldflags "-X github.com/peering-operator/peering-operator/internal/version.Version=v0.1.0".
package version

// Version of the operator; "dev" for a local build.
var Version = "dev"

// UserAgent names the operator and its version in requests to PeeringDB,
// IRR servers and the Kubernetes API.
func UserAgent() string { return "peering-operator/" + Version }
