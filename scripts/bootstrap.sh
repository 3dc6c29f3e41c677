#!/usr/bin/env bash
# Sets up .venv (Python 3.10) with the locked dependencies and recsearch itself.
# Does nothing when the venv already matches requirements/lock.txt and setup.py.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv
stamp="$venv/.recsearch-installed"
extra=()
for req in "$@"; do extra+=(-r "$req"); done
want=$(cat requirements/lock.txt requirements/dev.txt setup.py "$@" | sha256sum | cut -d' ' -f1)

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$venv/bin/recsearch" ]]; then
  exit 0
fi

is_py310() {
  [[ -n "$1" ]] && "$1" -c 'import sys, venv; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1
}

find_python() {
  local candidates=()
  [[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
  candidates+=("$(command -v python3.10 || true)")
  if command -v pyenv >/dev/null 2>&1; then
    local root
    root=$(pyenv root)
    for p in "$root"/versions/3.10*/bin/python3.10; do candidates+=("$p"); done
  fi
  for p in "$HOME"/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do
    candidates+=("$p")
  done
  for p in "${candidates[@]}"; do
    if is_py310 "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

if [[ -x "$venv/bin/python" ]] && ! is_py310 "$venv/bin/python"; then
  echo "bootstrap: $venv is not a Python 3.10 venv; recreating it" >&2
  rm -rf "$venv"
fi

if [[ ! -x "$venv/bin/python" ]]; then
  if ! py=$(find_python); then
    cat >&2 <<'MSG'
recsearch needs CPython 3.10 (TFX 1.16 supports Python 3.9 and 3.10 only), and none was found
on PATH, under pyenv, or in /usr/bin and /usr/local/bin. Install one of:
  - pyenv:        pyenv install 3.10.13
  - Debian/Ubuntu: sudo apt install python3.10 python3.10-venv
  - macOS:        brew install python@3.10
or point to an interpreter with PYTHON=/path/to/python3.10 make test
MSG
    exit 1
  fi
  echo "bootstrap: creating $venv with $py" >&2
  "$py" -m venv "$venv"
fi

echo "bootstrap: installing the locked dependencies into $venv (a few minutes the first time)" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pip<25"
# The runtime lock (what the image installs) and the development tools (tests, lint).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r requirements/lock.txt -r requirements/dev.txt
if (( ${#extra[@]} )); then
  # Extras (the benchmark peers) may build from source against the installed NumPy:
  # their build tools (pinned Cython) go in first, then the extras without build isolation.
  build_tools=$(grep -hiE '^cython==' "$@" || true)
  if [[ -n "$build_tools" ]]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $build_tools
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-build-isolation "${extra[@]}"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "$want" > "$stamp"
echo "bootstrap: $venv is ready" >&2
