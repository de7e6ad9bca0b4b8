# Sourced by scripts/bootstrap, scripts/checkov and scripts/test: the Pythons the project supports, how
# to find them, and how a virtualenv is kept made by the right interpreter with its requirements installed.
# Every function is safe under the caller's `set -euo pipefail` and inside an `if` (errors are returned).

# The supported Pythons, in the order they are preferred: 3.11 first because the function app deploys
# on 3.11 unless told otherwise (infra/main.bicep, pythonVersion), so a local .venv matches Azure.
SUPPORTED_PYTHONS=(3.11 3.12 3.13)

# python_version BIN: "3.12" when BIN runs. Prints nothing for a pyenv shim of a version pyenv has not
# selected: it exists on PATH but refuses to run.
python_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

# interpreter BIN: the real path of the Python BIN runs (a virtualenv's bin/python links to the
# interpreter that made it), or nothing when BIN does not run.
interpreter() {
  "$1" -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null || true
}

is_supported() {
  local version
  for version in "${SUPPORTED_PYTHONS[@]}"; do
    [ "$version" = "$1" ] && return 0
  done
  return 1
}

# find_python 3.12: the path of a working Python 3.12: python3.12 on PATH, else one that pyenv installed
# without selecting it (newest patch release first), else python3 when it is 3.12. Fails when none is.
find_python() {
  local want="$1" candidate
  local candidates=("python$want")
  if command -v pyenv >/dev/null 2>&1; then
    while IFS= read -r candidate; do
      candidates+=("$candidate")
    done < <(ls -d "$(pyenv root)/versions/$want".*/bin/"python$want" 2>/dev/null | sort -V -r)
  fi
  candidates+=(python3)
  for candidate in "${candidates[@]}"; do
    if [ "$(python_version "$candidate")" = "$want" ]; then
      interpreter "$candidate"
      return 0
    fi
  done
  return 1
}

# choose_python WHO VENV: the interpreter VENV is to be made by. PYTHON= first, which must be a
# supported version; else the one VENV was made by, while it runs and is supported; else the first
# supported version found, in SUPPORTED_PYTHONS order.
choose_python() {
  local who="$1" venv="$2" version made
  if [ -n "${PYTHON:-}" ]; then
    version="$(python_version "$PYTHON")"
    if [ -z "$version" ]; then
      echo "$who: PYTHON=$PYTHON does not run (supported: ${SUPPORTED_PYTHONS[*]})" >&2
      return 2
    fi
    if ! is_supported "$version"; then
      echo "$who: PYTHON=$PYTHON is Python $version, not a supported one (${SUPPORTED_PYTHONS[*]})" >&2
      return 2
    fi
    interpreter "$PYTHON"
    return 0
  fi
  made="$(interpreter "$venv/bin/python")"
  if [ -n "$made" ] && is_supported "$(python_version "$made")"; then
    echo "$made"
    return 0
  fi
  for version in "${SUPPORTED_PYTHONS[@]}"; do
    find_python "$version" && return 0
  done
  echo "$who: no supported Python found (${SUPPORTED_PYTHONS[*]}); set PYTHON=/path/to/python3.x" >&2
  return 2
}

# ensure_venv WHO VENV PYTHON REQUIREMENTS...: VENV becomes a virtualenv made by PYTHON, recreated when
# another interpreter made it or its interpreter no longer runs; REQUIREMENTS are installed into it
# whenever their text changed (their hash is kept in VENV).
ensure_venv() {
  local who="$1" venv="$2" python="$3"
  shift 3
  local made wanted stamp="$venv/.requirements.sha256" requirement
  local install=()
  made="$(interpreter "$venv/bin/python")"
  if [ -e "$venv" ] && [ "$made" != "$(interpreter "$python")" ]; then
    echo "$who: recreating $venv (made by ${made:-an interpreter that no longer runs}; wanted $python)" >&2
    rm -rf "$venv" || return
  fi
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || return
  fi
  wanted="$(cat "$@" | "$python" -c 'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())')" || return
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
    echo "$who: installing Python packages into $venv (Python $(python_version "$python"))" >&2
    for requirement in "$@"; do
      install+=(-r "$requirement")
    done
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${install[@]}" || return
    echo "$wanted" > "$stamp"
  fi
}
