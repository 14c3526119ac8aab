# Shared by bin/run-portal and bin/test: a virtualenv that matches requirements/.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
APT_UPDATED=0

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)." >&2
  return 1
}

# ensure_venv REQUIREMENTS_NAME: installs requirements/NAME.txt when it changed since last time.
ensure_venv() {
  local name=$1 python stamp wanted
  python=$(find_python)
  # A venv left half-built (no pip) by an interrupted run is made anew.
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    say "creating virtualenv in .venv"
    if ! "$python" -m venv --clear "$VENV" 2>/dev/null; then
      apt_install python3-venv
      "$python" -m venv --clear "$VENV"
    fi
    rm -f "$VENV"/.requirements-*
  fi
  stamp="$VENV/.requirements-$name"
  wanted=$(cat "$ROOT"/requirements/*.txt | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    say "installing requirements/$name.txt"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements/$name.txt"
    echo "$wanted" > "$stamp"
  fi
}
