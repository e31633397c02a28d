#!/usr/bin/env bash
# Regenerates requirements/test.txt, the exact versions .ci/run and the README's test command
# install (runtime dependencies plus the dev, ray and lmd-dlib extras), with pip-tools'
# pip-compile. Users keep pyproject.toml's open ranges; the lock is for tests only.
#
#   bash scripts/lock.sh            # re-resolve, keeping every pinned version that still fits
#   bash scripts/lock.sh --upgrade  # move every pin to the newest version the ranges allow
#
# Upgrading the lock is a deliberate commit: run scripts/test_newest.sh first to see what the
# newest versions break, fix it, then run this with --upgrade and commit the lock alone.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check "pip-tools>=7.4"
python3 -m piptools compile -q --extra dev --extra ray --extra lmd-dlib --strip-extras \
  --no-emit-index-url --no-emit-find-links --output-file requirements/test.txt "$@" pyproject.toml
# A CPU build resolves as torch==X+cpu; the pin must also match the same release elsewhere
# (PyPI's CUDA wheel, or a local file), so the local version label is dropped.
sed -i -E 's/^(torch==[0-9.]+)\+[a-z0-9]+$/\1/' requirements/test.txt
echo "requirements/test.txt: $(grep -c '==' requirements/test.txt) pinned packages"
