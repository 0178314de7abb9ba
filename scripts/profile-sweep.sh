#!/usr/bin/env bash
# Profiles the crash sweep of persistence scenarios with JFR and prints, per scenario, the
# points/s (wall, CPU) and the top frames of jdk.ExecutionSample: self (top of stack) and
# inclusive (anywhere in the top DEPTH frames of the stack), plus the GC pause total.
# With -c METHOD (a substring of a frame, e.g. CrashImages.examine), also the methods it calls
# directly, by samples under them (what the time inside METHOD went to).
# Usage: scripts/profile-sweep.sh [-s SECONDS] [-n TOP] [-d DEPTH] [-c METHOD] SCENARIO.yaml...
#   e.g. scripts/profile-sweep.sh -s 10 scenarios/persistence/backing-and-in-use.yaml
# Run ./blocksim once first (it builds the jars). Recordings stay in ${TMPDIR:-/tmp}/profile-sweep.
set -eu
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds=10 top=25 depth=64 callees=""
while getopts s:n:d:c: opt; do
  case "$opt" in
    s) seconds=$OPTARG ;; n) top=$OPTARG ;; d) depth=$OPTARG ;; c) callees=$OPTARG ;; *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
cp="$root/sim/target/blocksim-sim-0.1.0-SNAPSHOT.jar:$root/model/target/blocksim-model-0.1.0-SNAPSHOT.jar:$root/sim/target/lib/*"
out="${TMPDIR:-/tmp}/profile-sweep"
mkdir -p "$out/classes"
javac -d "$out/classes" -cp "$cp" "$root/scripts/SweepLoop.java"
for scenario in "$@"; do
  name="$(basename "$scenario" .yaml)"
  jfr_file="$out/$name.jfr"
  java -XX:+UseParallelGC -Xmn64m -Xss8m -cp "$out/classes:$cp" \
    -XX:StartFlightRecording=filename="$jfr_file",settings=profile,jdk.ExecutionSample#period=1ms,dumponexit=true \
    -Xlog:jfr*=off SweepLoop "$scenario" "$seconds" 2>/dev/null \
    | grep -v '^\[' || true
  jfr print --events jdk.ExecutionSample --stack-depth "$depth" "$jfr_file" > "$out/$name.txt"
  echo "== $name: top frames, self (samples)"
  awk '/stackTrace = \[/ {getline; sub(/^[ \t]+/, ""); sub(/[ \t]+line:.*/, ""); print}' \
    "$out/$name.txt" | sort | uniq -c | sort -rn | head -n "$top"
  echo "== $name: top frames outside the JDK, inclusive in the top $depth (samples)"
  awk '/stackTrace = \[/ {in_stack = 1; delete seen; next}
       in_stack && /^[ \t]*\]/ {in_stack = 0; next}
       in_stack {f = $0; sub(/^[ \t]+/, "", f); sub(/[ \t]+line:.*/, "", f);
                 if (!(f in seen) && f !~ /^(java|jdk|sun|com\.sun)\./) {seen[f] = 1; print f}}' \
    "$out/$name.txt" \
    | sort | uniq -c | sort -rn | head -n "$top"
  if [ -n "$callees" ]; then
    echo "== $name: callees of $callees (samples; (self) = in it)"
    # Frames are printed innermost first: the callee is the line before the caller's.
    awk -v m="$callees" '/stackTrace = \[/ {in_stack = 1; prev = "(self)"; done = 0; next}
         in_stack && /^[ \t]*\]/ {in_stack = 0; next}
         in_stack {f = $0; sub(/^[ \t]+/, "", f); sub(/[ \t]+line:.*/, "", f);
                   if (!done && index(f, m) > 0) {print prev; done = 1}; prev = f}' \
      "$out/$name.txt" | sort | uniq -c | sort -rn | head -n "$top"
  fi
  echo "== $name: allocation, top frames outside java.* (sampled bytes, MB)"
  jfr print --events jdk.ObjectAllocationSample --stack-depth 8 "$jfr_file" \
    | awk '/weight = / {w = $3; u = $4; m = (u ~ /^kB/) ? 1e-3 : (u ~ /^MB/) ? 1 : (u ~ /^GB/) ? 1e3 : 1e-6}
           /stackTrace = \[/ {in_stack = 1; next}
           in_stack && /^[ \t]*\]/ {in_stack = 0; next}
           in_stack && !done[NR] {f = $0; sub(/^[ \t]+/, "", f); sub(/[ \t]+line:.*/, "", f);
             if (f !~ /^(java|jdk|sun)\./) {a[f] += w * m; in_stack = 0}}
           END {for (f in a) printf "%10.1f %s\n", a[f], f}' | sort -rn | head -n "$top"
  echo "== $name: GC"
  jfr summary "$jfr_file" | grep -E 'jdk.GarbageCollection |jdk.ExecutionSample ' || true
  jfr print --events jdk.GarbageCollection "$jfr_file" \
    | awk '/sumOfPauses/ {v = $3; u = $4; if (u ~ /^ms/) t += v; else if (u ~ /^s/) t += v * 1000;
           else if (u ~ /^us/) t += v / 1000; n++} END {printf "%d collections, %.1f ms of pauses\n", n, t}'
done
