#!/usr/bin/env bash
# Runs the fast test suite against the NEWEST versions pyproject.toml's ranges allow, in a fresh
# virtual environment, instead of the lock (requirements/test.txt) that CI uses. Not part of
# CI: run it on purpose (before `bash scripts/lock.sh --upgrade`) to find what a new release
# breaks (click 8.5 retyping ClickException.exit_code was found by a fresh machine, not by us).
#
#   bash scripts/test_newest.sh [pytest args...]   # default: -q -m "not slow"
#
# Prints the versions that differ from the lock, then the style gate and the fast suite; exits
# with the first failure's status.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${NEWEST_VENV:-$(mktemp -d)/venv}"
python3 -m venv "$venv"
# shellcheck disable=SC1091
. "$venv/bin/activate"
pip_q=(python -m pip install -q --disable-pip-version-check --no-cache-dir)
"${pip_q[@]}" --upgrade pip
# torch is capped by pyproject.toml's range; the newest release it allows is taken.
"${pip_q[@]}" --upgrade --upgrade-strategy eager -e ".[dev,ray,lmd-dlib]"
echo "== versions that differ from the lock"
frozen="$(mktemp)"
python -m pip freeze --exclude-editable >"$frozen"
python -c '
import re, sys

def pins(path):
    found = {}
    for line in open(path):
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
        if m:
            found[m.group(1).lower().replace("_", "-")] = m.group(2).split("+")[0]
    return found

lock, now = pins(sys.argv[1]), pins(sys.argv[2])
changed = [n for n in sorted(lock) if n in now and now[n] != lock[n]]
for name in changed:
    print(f"  {name}: lock {lock[name]} -> {now[name]}")
print(f"  {len(changed)} package(s) differ from the lock")
' requirements/test.txt "$frozen"
rm -f "$frozen"
echo "== style gate"
python -m ruff check .
python -m ruff format --check .
python -m mypy
echo "== fast suite"
if (($#)); then python -m pytest "$@"; else python -m pytest -q -m "not slow"; fi
