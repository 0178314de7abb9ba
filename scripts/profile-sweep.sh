#!/usr/bin/env bash
# Profiles the crash sweep of persistence scenarios with JFR and prints, per scenario, the
# points/s (wall, CPU) and scripts/jfr-report.sh's summary of the recording: top frames of
# jdk.ExecutionSample, self (top of stack) and inclusive (anywhere in the top DEPTH frames of the
# stack), allocation sites, compilations and the GC pause total.
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
  echo "== $name"
  "$root/scripts/jfr-report.sh" -n "$top" -d "$depth" ${callees:+-c "$callees"} "$jfr_file"
done
