#!/usr/bin/env bash
# Set up everything the collection, its tests and the sandbox need, on a fresh Debian bookworm machine.
# Idempotent: each step is skipped when its inputs have not changed since it last ran (stamps in .cache/stamps).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=../tests/versions.env
source tests/versions.env

CACHE="$ROOT/.cache"
STAMPS="$CACHE/stamps"
VENV="$ROOT/.venv"
export UV_CACHE_DIR="$CACHE/uv"
# Installed packages get their bytecode now, as pip does by default (uv does not): every Ansible module run imports
# the kubernetes client, every MLflow pod start and barman-cloud call imports its own stack, and without .pyc files
# (PYTHONDONTWRITEBYTECODE is often set in containers, so Python never writes them later) each import recompiles
# from source - measured at twice the CPU of `import kubernetes` and a third of the e2e layer's time.
export UV_COMPILE_BYTECODE=1
mkdir -p "$STAMPS"

say() { printf '==> %s\n' "$*"; }

# stamp NAME INPUT...: true when NAME was made from exactly these inputs (file contents or strings).
stamp_digest() { for input in "$@"; do if [ -f "$input" ]; then sha256sum "$input"; else echo "$input"; fi; done | sha256sum | cut -d' ' -f1; }
stamp_ok() { local name=$1; shift; [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$(stamp_digest "$@")" ]; }
stamp_set() { local name=$1; shift; stamp_digest "$@" > "$STAMPS/$name"; }

find_python312() {
  local candidate
  for candidate in "${PYENV_ROOT:-/root/.pyenv}"/versions/3.12*/bin/python3.12 "$(command -v python3.12 || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# 1. System packages: PostgreSQL 15 server (tests and sandbox) and nss_wrapper (sandbox service names).
need_apt=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need_apt+=(postgresql-15 postgresql-client-15)
[ -e /usr/lib/x86_64-linux-gnu/libnss_wrapper.so ] || [ -e /usr/lib/aarch64-linux-gnu/libnss_wrapper.so ] || need_apt+=(libnss-wrapper)
command -v runuser >/dev/null || [ -x /usr/sbin/runuser ] || need_apt+=(util-linux)
# The shellcheck program lets `ansible-test sanity` check the shell scripts too.
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
if [ ${#need_apt[@]} -gt 0 ]; then
  say "installing Debian packages: ${need_apt[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "setup: installing ${need_apt[*]} needs root (apt-get)" >&2; exit 1; fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
# The Debian package starts a cluster of its own on 5432; the tests start their own servers and do not need it.

# 2. The project venv: Python 3.12 (ansible-core 2.21 needs >= 3.12 on the controller).
PY312="$(find_python312)" || { echo "setup: Python 3.12 not found (pyenv install 3.12)" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
  say "creating .venv with $PY312"
  rm -rf "$VENV"
  "$PY312" -m venv "$VENV"
fi
if ! stamp_ok venv tests/requirements.txt meta/ee-requirements.txt bytecode; then
  say "installing Python packages into .venv"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check 'uv==0.13.9'
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -r tests/requirements.txt -r meta/ee-requirements.txt
  stamp_set venv tests/requirements.txt meta/ee-requirements.txt bytecode
fi

# 2b. The execution environment's Python packages (meta/ee-requirements.txt, at the versions tests/requirements.txt
#     pins): the interpreter the tests run the modules with, as AWX runs them in the execution environment
#     (tests/support/ansible_run.py), without .venv's test tooling.
EE_VENV="$CACHE/ee"
if [ ! -x "$EE_VENV/bin/python" ] || ! stamp_ok ee-venv "$PY312" meta/ee-requirements.txt tests/requirements.txt; then
  say "installing the execution environment's Python packages into $EE_VENV"
  rm -rf "$EE_VENV"
  "$PY312" -m venv --without-pip "$EE_VENV"
  "$VENV/bin/uv" pip install -q --python "$EE_VENV/bin/python" -r meta/ee-requirements.txt -c tests/requirements.txt
  stamp_set ee-venv "$PY312" meta/ee-requirements.txt tests/requirements.txt
fi

# 3. Collections without Galaxy: unpacked from the `ansible` community bundle wheel on PyPI.
COLLECTIONS="kubernetes/core community/okd ansible/posix"
# awx.awx (for awx/configure.yml) left the bundle after ansible 9; it comes from the last bundle that had it.
AWX_COLLECTIONS="awx/awx"
if ! stamp_ok collections "$ANSIBLE_BUNDLE_VERSION" "$COLLECTIONS" "$AWX_BUNDLE_VERSION" "$AWX_COLLECTIONS"; then
  say "unpacking collections ($COLLECTIONS) from ansible==$ANSIBLE_BUNDLE_VERSION"
  mkdir -p "$CACHE/wheels"
  wheel="$CACHE/wheels/ansible-$ANSIBLE_BUNDLE_VERSION-py3-none-any.whl"
  [ -f "$wheel" ] || "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
    -d "$CACHE/wheels" "ansible==$ANSIBLE_BUNDLE_VERSION"
  awx_wheel="$CACHE/wheels/ansible-$AWX_BUNDLE_VERSION-py3-none-any.whl"
  [ -f "$awx_wheel" ] || "$VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
    -d "$CACHE/wheels" "ansible==$AWX_BUNDLE_VERSION"
  rm -rf collections/ansible_collections/kubernetes collections/ansible_collections/community \
    collections/ansible_collections/ansible collections/ansible_collections/awx
  extract() {
    "$VENV/bin/python" - "$@" <<'PY'
import sys, zipfile
wheel, wanted = sys.argv[1], tuple(f"ansible_collections/{name}/" for name in sys.argv[2:])
with zipfile.ZipFile(wheel) as archive:
    archive.extractall("collections", [n for n in archive.namelist() if n.startswith(wanted)])
PY
  }
  # shellcheck disable=SC2086  # the lists are words
  extract "$wheel" $COLLECTIONS
  # shellcheck disable=SC2086
  extract "$awx_wheel" $AWX_COLLECTIONS
  stamp_set collections "$ANSIBLE_BUNDLE_VERSION" "$COLLECTIONS" "$AWX_BUNDLE_VERSION" "$AWX_COLLECTIONS"
fi
# This checkout as mlops.mlflow, for ansible, ansible-playbook and ansible-doc run from the repository root.
mkdir -p collections/ansible_collections/mlops
ln -sfn ../../.. collections/ansible_collections/mlops/mlflow

# 4. ansible-test fetches get-pip from a host that is not reachable here; it uses a cached copy when present.
#    The stand-in bootstraps pip with ensurepip, then installs what was asked, both as subprocesses (in-process
#    ensurepip sets PIP_CONFIG_FILE=/dev/null and pip would lose the machine's CA setting).
pip_version="$(sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" "$VENV"/lib/python3.12/site-packages/ansible_test/_internal/python_requirements.py | head -1)"
getpip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
if [ ! -f "$getpip" ] || ! grep -q 'mlops.mlflow stand-in' "$getpip"; then
  say "writing the offline get-pip stand-in for ansible-test ($getpip)"
  mkdir -p "$(dirname "$getpip")"
  cat > "$getpip" <<'PY'
# mlops.mlflow stand-in for get-pip.py: ansible-test runs it in a fresh venv to install pip and packages.
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--disable-pip-version-check"] + args)
PY
fi

# 5. barman-cloud in a venv the `postgres` user can execute: Debian's python3 (not pyenv's under /root).
BARMAN_VENV="${MLOPS_BARMAN_VENV:-$CACHE/barman}"
if ! stamp_ok barman "$BARMAN_VERSION" bytecode || [ ! -x "$BARMAN_VENV/bin/barman-cloud-backup" ]; then
  say "installing barman-cloud $BARMAN_VERSION into $BARMAN_VENV"
  rm -rf "$BARMAN_VENV"
  "$VENV/bin/uv" venv -q --python /usr/bin/python3 "$BARMAN_VENV"
  # Without a floor, the resolver may pick an ancient boto3 that cannot talk to S3.
  "$VENV/bin/uv" pip install -q --python "$BARMAN_VENV/bin/python" "barman[cloud]==$BARMAN_VERSION" 'boto3>=1.34'
  stamp_set barman "$BARMAN_VERSION" bytecode
fi
if ! runuser -u postgres -- "$BARMAN_VENV/bin/barman-cloud-backup" --version >/dev/null 2>&1; then
  echo "setup: the postgres user cannot run $BARMAN_VENV (is a parent folder private?); set MLOPS_BARMAN_VENV to a readable place" >&2
  exit 1
fi

# 6. MLflow venvs of the pinned versions (the tests and the sandbox's image builds reuse them).
if ! stamp_ok mlflow-venvs "$MLFLOW_VERSIONS" sandbox/runtime/venvs.py charts/mlflow/files/requirements/*.txt; then
  say "building MLflow venvs: $MLFLOW_VERSIONS"
  read -r -a versions_list <<< "$MLFLOW_VERSIONS"
  "$VENV/bin/python" -m sandbox.runtime.venvs "${versions_list[@]}"
  stamp_set mlflow-venvs "$MLFLOW_VERSIONS" sandbox/runtime/venvs.py charts/mlflow/files/requirements/*.txt
fi

say "setup complete: $("$VENV/bin/ansible" --version | sed -n 1p), Python $("$VENV/bin/python" -V | cut -d' ' -f2)"
