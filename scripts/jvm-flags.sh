#!/usr/bin/env bash
# Compares JVM flag sets on the whole-corpus run: `./blocksim run scenarios`, each flag set run in
# turn (A B C A B C ...) so that a change in the machine's load falls on all of them, and prints
# each set's median wall, user and system seconds. Measure on a quiet machine; a flag set's output
# must still be "N passed, 0 failed" (checked).
#
# Usage: scripts/jvm-flags.sh [-n RUNS] [--] 'FLAGS A' ['FLAGS B' ...]   ('' adds none)
# Example: scripts/jvm-flags.sh -n 5 '' '-XX:MaxInlineLevel=5 -XX:InlineSmallCode=1000'
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=3
if [ "${1:-}" = "-n" ]; then runs="$2"; shift 2; fi
if [ "${1:-}" = "--" ]; then shift; fi
if [ "$#" -eq 0 ]; then
  echo "usage: scripts/jvm-flags.sh [-n RUNS] 'FLAGS A' ['FLAGS B' ...]" >&2
  exit 2
fi
"$root/blocksim" --version >/dev/null  # builds (and makes the class-data archive) if needed
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
for ((r = 0; r < runs; r++)); do
  for ((i = 1; i <= $#; i++)); do
    flags="${!i}"
    BLOCKSIM_JAVA_OPTS="$flags" /usr/bin/time -f "%e %U %S" -o "$out/time" \
      "$root/blocksim" run "$root/scenarios" > "$out/log" 2>&1 || true
    if ! tail -n 1 "$out/log" | grep -q " passed, 0 failed$"; then
      echo "flags '$flags': the corpus did not pass:" >&2
      tail -n 3 "$out/log" >&2
      exit 1
    fi
    cat "$out/time" >> "$out/$i"
  done
done
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for ((i = 1; i <= $#; i++)); do
  printf '%6s s wall %6s s user %5s s sys  [%s]\n' \
    "$(cut -d' ' -f1 "$out/$i" | median)" "$(cut -d' ' -f2 "$out/$i" | median)" \
    "$(cut -d' ' -f3 "$out/$i" | median)" "${!i:-no extra flags}"
done
