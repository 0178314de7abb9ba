#!/usr/bin/env bash
# Benchmark (not a test): for each bug: variant, runs `blocksim explore` with 5 campaign seeds
# and prints the runs and the wall-clock seconds to the first violation, and their medians.
# Usage: scripts/explore-kill-times.sh [variant...]   (default: every bug: variant)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  mapfile -t variants < <(./blocksim semantics | awk '/^bug:/{print $1}')
fi
out="$(mktemp -d)"
for v in "${variants[@]}"; do
  runs=(); secs=(); checkers=()
  for seed in 1 2 3 4 5; do
    ./blocksim explore --runs 5000 --seed "$seed" --semantics "$v" --no-shrink \
      --out "$out" --json "$out/s.json" >/dev/null || true
    read -r r s c < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]));
f=d["failures"]; print(d["runs"], d["seconds"], f[0]["checker"] if f else "none")' "$out/s.json")
    runs+=("$r"); secs+=("$s"); checkers+=("$c")
  done
  med() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
  echo "$v: runs to kill ${runs[*]} (median $(med "${runs[@]}")), seconds ${secs[*]}" \
    "(median $(med "${secs[@]}")), checkers ${checkers[*]}"
done
