#!/usr/bin/env bash
# Installs `kubernetes-validate` (PyPI) into a venv of its own under
# /var/cache, so the pod tests check our Kubernetes YAML with a validator
# nobody here wrote. Idempotent: does nothing when it is already there.
# Prints the path of the `kubernetes-validate` command.
set -euo pipefail

venv="${SDTUI_K8S_VALIDATE_DIR:-/var/cache/sdtui-kubernetes-validate}"
bin="$venv/bin/kubernetes-validate"

if [ ! -x "$bin" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==1.37.0"
  test -x "$bin" || { echo "install-validate.sh: pip installed no $bin" >&2; exit 1; }
fi
echo "$bin"
