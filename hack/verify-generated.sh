#!/usr/bin/env bash
# Regenerates the CRDs, RBAC and deepcopy code and fails when that changed
# anything: the committed files must be exactly what the types generate.
set -euo pipefail
cd "$(dirname "$0")/.."
files() { find config/crd/bases config/rbac config/webhook api -type f \( -name '*.yaml' -o -name 'zz_generated*.go' \) | sort | xargs sha256sum; }
before=$(files)
make -s manifests generate >/dev/null
after=$(files)
if [ "$before" != "$after" ]; then
  echo "generated files were stale and have been regenerated; review and commit them:" >&2
  diff <(echo "$before") <(echo "$after") >&2 || true
  exit 1
fi
echo "generated files are up to date"
