#!/usr/bin/env bash
# Summarises a JFR recording of any blocksim run: the top frames of jdk.ExecutionSample, self
# (top of stack) and inclusive outside the JDK (anywhere in the top DEPTH frames), optionally only
# of the samples whose stack passes through FILTER and the callees of one METHOD; the allocation
# sites outside java.* (jdk.ObjectAllocationSample, sampled MB); the longest JIT compilations
# (jdk.Compilation, when recorded); and the GC pauses.
#
# Record with e.g.
#   BLOCKSIM_JAVA_OPTS='-XX:StartFlightRecording=filename=x.jfr,settings=profile,jdk.ExecutionSample#period=1ms' \
#     ./blocksim run scenarios
# Usage: scripts/jfr-report.sh [-n TOP] [-d DEPTH] [-f FILTER] [-c METHOD] FILE.jfr
# Two cautions (docs/performance.md): JFR's own ASM compilations show among the compilations, and
# time inside an intrinsic (an array copy or fill) is charged to the frame that called it.
set -eu
top=25 depth=64 filter="" callees=""
while getopts n:d:f:c: opt; do
  case "$opt" in
    n) top=$OPTARG ;; d) depth=$OPTARG ;; f) filter=$OPTARG ;; c) callees=$OPTARG ;;
    *) echo "usage: scripts/jfr-report.sh [-n TOP] [-d DEPTH] [-f FILTER] [-c METHOD] FILE.jfr" >&2
       exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: scripts/jfr-report.sh [-n TOP] [-d DEPTH] [-f FILTER] [-c METHOD] FILE.jfr" >&2
  exit 2
fi
jfr_file="$1"
jfr="${JFR:-jfr}"
samples="$(mktemp)"
trap 'rm -f "$samples"' EXIT
# One line per sample: its frames innermost first, separated by '|', kept when FILTER is in one.
"$jfr" print --events jdk.ExecutionSample --stack-depth "$depth" "$jfr_file" \
  | awk -v filter="$filter" '
      /stackTrace = \[/ {in_stack = 1; s = ""; next}
      in_stack && /^[ \t]*\]/ {in_stack = 0; if (filter == "" || index(s, filter) > 0) print s; next}
      in_stack {f = $0; sub(/^[ \t]+/, "", f); sub(/[ \t]+line:.*/, "", f);
                s = (s == "" ? f : s "|" f)}' > "$samples"
echo "== $(wc -l < "$samples") samples${filter:+ through $filter}; top frames, self"
cut -d'|' -f1 "$samples" | sort | uniq -c | sort -rn | head -n "$top"
echo "== top frames outside the JDK, inclusive"
awk -F'|' '{delete seen; for (i = 1; i <= NF; i++) if (!($i in seen) && $i !~ /^(java|jdk|sun|com\.sun)\./) {seen[$i] = 1; print $i}}' \
  "$samples" | sort | uniq -c | sort -rn | head -n "$top"
if [ -n "$callees" ]; then
  echo "== callees of $callees ((self) = in it)"
  awk -F'|' -v m="$callees" '{prev = "(self)"; for (i = 1; i <= NF; i++) {if (index($i, m) > 0) {print prev; break}; prev = $i}}' \
    "$samples" | sort | uniq -c | sort -rn | head -n "$top"
fi
echo "== allocation, top frames outside java.* (sampled MB)"
"$jfr" print --events jdk.ObjectAllocationSample --stack-depth 8 "$jfr_file" \
  | awk '/weight = / {w = $3; u = $4; m = (u ~ /^kB/) ? 1e-3 : (u ~ /^MB/) ? 1 : (u ~ /^GB/) ? 1e3 : 1e-6}
         /stackTrace = \[/ {in_stack = 1; next}
         in_stack && /^[ \t]*\]/ {in_stack = 0; next}
         in_stack {f = $0; sub(/^[ \t]+/, "", f); sub(/[ \t]+line:.*/, "", f);
           if (f !~ /^(java|jdk|sun)\./) {a[f] += w * m; in_stack = 0}}
         END {for (f in a) printf "%10.1f %s\n", a[f], f}' | sort -rn | head -n "$top"
echo "== longest JIT compilations (ms, tier, method)"
"$jfr" print --events jdk.Compilation "$jfr_file" \
  | awk '/duration = / {v = $3; u = $4; d = (u ~ /^ms/) ? v : (u ~ /^s/) ? v * 1000 : (u ~ /^us/) ? v / 1000 : v / 1e6}
         /method = / {sub(/^[ \t]*method = /, ""); m = $0}
         /compileLevel = / {printf "%10.1f L%s %s\n", d, $3, m}' | sort -rn | head -n "$top"
echo "== GC"
"$jfr" print --events jdk.GarbageCollection "$jfr_file" \
  | awk '/sumOfPauses/ {v = $3; u = $4; if (u ~ /^ms/) t += v; else if (u ~ /^s/) t += v * 1000;
         else if (u ~ /^us/) t += v / 1000; n++} END {printf "%d collections, %.1f ms of pauses\n", n, t}'
