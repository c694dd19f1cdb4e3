// Package helmcheck holds the test that keeps the Helm chart in
// config/helm/peering-operator equal to config/, the source it is made from:
// CRDs, RBAC, webhook configurations, alert rules and dashboard. It renders
// the chart with the Helm built from hack/helm/go.mod.
package helmcheck
