# Sourced by the bench scripts: the Python environment they compare against, pinned, in
# build/bench-venv (created or completed the first time, ~1 min from PyPI). Sets VENV.
# scikit-learn 1.9.1 and pandas 3.1.1: the versions every figure in bench/RESULTS.md used.
SKLEARN_VERSION=1.9.1
PANDAS_VERSION=3.1.1
VENV="$PWD/build/bench-venv"
if ! "$VENV/bin/python" -c "import sklearn, sys; sys.exit(sklearn.__version__ != '$SKLEARN_VERSION')" 2>/dev/null; then
  echo "bench: installing scikit-learn $SKLEARN_VERSION and pandas $PANDAS_VERSION into build/bench-venv" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "scikit-learn==$SKLEARN_VERSION" "pandas==$PANDAS_VERSION"
fi
if ! "$VENV/bin/python" -c "import pandas, sys; sys.exit(pandas.__version__ != '$PANDAS_VERSION')" 2>/dev/null; then
  echo "bench: installing pandas $PANDAS_VERSION into build/bench-venv" >&2
  "$VENV/bin/pip" install -q "pandas==$PANDAS_VERSION"
fi
