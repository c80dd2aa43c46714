#!/usr/bin/env bash
# bench/report/run.sh: time gotrail report over a trail of N events written
# by the real trail.Writer (bench/report/gentrail), with /usr/bin/time -v for
# the wall time and the peak RSS. The target (DESIGN.md): 1,000,000 events
# in under 10 s and 256 MiB.
#
#   bash bench/report/run.sh                 # 1,000,000 events, 90% go.exec
#   bash bench/report/run.sh -n 100000 -exec 0   # changes only
set -euo pipefail
n=1000000 exec=0.9 keep=""
while [ $# -gt 0 ]; do
	case $1 in
	-n) n=$2; shift 2 ;;
	-exec) exec=$2; shift 2 ;;
	-keep) keep=1; shift ;;
	*) echo "usage: $0 [-n EVENTS] [-exec SHARE] [-keep]" >&2; exit 2 ;;
	esac
done
cd "$(dirname "$0")/../.."
GO=${GO:-go}
work=$(mktemp -d "${TMPDIR:-/tmp}/gotrail-report-bench.XXXXXX")
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
$GO build -o "$work/gotrail" ./cmd/gotrail
echo "writing a trail of $n events (go.exec share $exec) in $work/state" >&2
$GO run ./bench/report/gentrail -state "$work/state" -n "$n" -exec "$exec" 2>&1 | tail -1 >&2
echo "trail: $(du -sm "$work/state/trail" | cut -f1) MB, $(nproc) CPU, load $(cut -d' ' -f1-3 /proc/loadavg)"
cat "$work"/state/trail/*.jsonl > /dev/null # page cache warm, as for the tools of bench/run.sh
for format in html json; do
	/usr/bin/time -v "$work/gotrail" report --state-dir "$work/state" --format "$format" --lang en \
		-o "$work/report.$format" 2> "$work/time.$format" || { cat "$work/time.$format" >&2; exit 1; }
	wall=$(awk -F': ' '/Elapsed/ {print $2}' "$work/time.$format")
	rss=$(awk -F': ' '/Maximum resident/ {printf "%.1f", $2/1024}' "$work/time.$format")
	cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$work/time.$format")
	size=$(du -m "$work/report.$format" | cut -f1)
	echo "| $format | $n | $exec | $wall | $cpu | $rss | $size |"
done
