#!/usr/bin/env bash
# The boosting route not taken, measured: perpetual 2.3.0 (a Rust GBM, through its Python wheel)
# against `churn train`'s own boosting, for quality (Telco, bank) and fit time (10^4-10^6 rows).
# See bench/routes.py. About 5 minutes on 2 cores. Installs perpetual==2.3.0 (pinned: the
# release the issue measured) into the venv of bench/venv.sh.
# Usage: bash bench/routes.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p trainer
source bench/venv.sh
"$VENV/bin/python" -c "import perpetual" 2>/dev/null || "$VENV/bin/pip" install -q "perpetual==2.3.0"
CHURN="${CHURN:-target/release/churn}" "$VENV/bin/python" bench/routes.py
