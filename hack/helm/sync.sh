#!/usr/bin/env bash
# Copies into the Helm chart what config/ is the source of: the CRDs (Helm
# installs crds/ as is) and, under files/ at the same path as in config/, the
# RBAC roles and bindings, the webhook configurations, the alert rules and the
# dashboard, which the chart's templates read with .Files. hack/helmcheck's
# test fails when a copy differs from its source.
set -euo pipefail
cd "$(dirname "$0")/../.."
chart=config/helm/peering-operator
rm -rf "$chart/crds" "$chart/files"
mkdir -p "$chart/crds" "$chart/files/rbac" "$chart/files/webhook" "$chart/files/prometheus" "$chart/files/grafana"
cp config/crd/bases/*.yaml "$chart/crds/"
cp config/rbac/*role.yaml config/rbac/*role_binding.yaml "$chart/files/rbac/"
cp config/webhook/manifests.yaml "$chart/files/webhook/"
cp config/prometheus/rules.yaml "$chart/files/prometheus/"
cp config/grafana/peering-operator.json "$chart/files/grafana/"
