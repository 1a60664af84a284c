# Sourced by scripts/up, scripts/test, scripts/bench and scripts/lock: make .venv with Python 3.11
# and install exactly the locked versions (requirements/*.lock, made by scripts/lock), then the
# project itself. Usage: ensure_venv "EXTRAS" (e.g. "test,dev", "flower" or "").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "error: Python 3.11 is needed (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

# The lock that holds EXTRAS: runtime.lock has the flower and ssh extras, dev.lock every extra.
lock_for() {
  local extra
  for extra in ${1//,/ }; do
    case "$extra" in
      flower | ssh) ;;
      *) echo "$ROOT/requirements/dev.lock"; return 0 ;;
    esac
  done
  echo "$ROOT/requirements/runtime.lock"
}

ensure_venv() {
  local extras="$1" lock stamp
  lock="$(lock_for "$extras")"
  if [ ! -x "$VENV/bin/python" ]; then
    "$(find_python)" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
  fi
  # Reinstall only when the lock, setup.cfg or the extras changed (a second run starts in seconds).
  stamp="$VENV/.installed-$(printf '%s' "$extras" | tr ',' '-')"
  if [ ! -f "$stamp" ] || [ "$lock" -nt "$stamp" ] || [ "$ROOT/setup.cfg" -nt "$stamp" ]; then
    # --require-hashes: every package, dependencies included, must be in the lock with its hash.
    "$VENV/bin/python" -m pip install --quiet --require-hashes --requirement "$lock"
    "$VENV/bin/python" -m pip install --quiet --no-deps --editable "$ROOT"
    touch "$stamp"
  fi
}
