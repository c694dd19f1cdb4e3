// Package crd embeds the generated CRDs (bases/, written by `make
// manifests`), so tools check files with the API server's own rules without
// a cluster (internal/crdschema, `kubectl peering validate`).
package crd

import "embed"

// Bases holds bases/*.yaml, one CRD per file.
//
//go:embed bases/*.yaml
var Bases embed.FS
