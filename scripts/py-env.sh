#!/usr/bin/env bash
# The Python environment of the tests, made or brought up to date, idempotently: a virtualenv
# in build/py-venv with python/requirements-test.txt (pinned), then the churn-edge wheel built
# from python/ by `pip install ./python` (maturin; cargo's target is target/python). Prints the
# venv's path. Run by scripts/test-python.sh and scripts/test-mlflow.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$PWD/build/py-venv"
REQ=python/requirements-test.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "py-env: installing $REQ into build/py-venv (mlflow, pyspark...: about 3 minutes the first time)" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ" >&2
  echo "$want" >"$STAMP"
fi
# Rebuilt from the sources every time (cargo makes it incremental), unless the caller has just
# done it (scripts/test.sh sets CHURN_WHEEL_BUILT=1 after scripts/test-python.sh).
if [ "${CHURN_WHEEL_BUILT:-}" = 1 ]; then echo "$VENV"; exit 0; fi
echo "py-env: building and installing the churn-edge wheel (pip install ./python)" >&2
PATH="$VENV/bin:$PATH" "$VENV/bin/pip" install -q --disable-pip-version-check --no-build-isolation \
  --force-reinstall --no-deps ./python >&2
echo "$VENV"
