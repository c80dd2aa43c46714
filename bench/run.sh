#!/usr/bin/env bash
# Benchmark gotrail against auditd's ausearch and laurel on the same
# real-format audit log. See bench/README.md.
#
# usage: bench/run.sh [-size 1G] [-runs 3] [-keep] [-corpus FILE]
#                     [-tools gotrail,laurel,ausearch] [-no-warmup]
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [-size 1G] [-runs N] [-keep] [-corpus FILE] [-tools LIST] [-no-warmup]

  -size SIZE    corpus size for bench/gencorpus (K, M, G: powers of 1024; default 1G)
  -runs N       timed runs per tool; the median is reported (default 3)
  -keep         keep the corpus as bench/.corpus-SIZE.log and reuse it if present
  -corpus FILE  benchmark this audit log as is instead of generating one
  -tools LIST   comma-separated subset of gotrail,laurel,ausearch (default all)
  -no-warmup    skip the untimed verification run of each tool (the file is
                still read once with cat to warm the page cache)

Progress goes to stderr; the results (a table, then markdown for
bench/RESULTS.md with the exact commands) go to stdout.
EOF
}

SIZE=1G
RUNS=3
KEEP=0
CORPUS=
TOOLS=gotrail,laurel,ausearch
WARMUP=1
while [ $# -gt 0 ]; do
	case "$1" in
	-size | --size) SIZE=${2:?-size needs a value}; shift 2 ;;
	-runs | --runs) RUNS=${2:?-runs needs a value}; shift 2 ;;
	-keep | --keep) KEEP=1; shift ;;
	-corpus | --corpus) CORPUS=${2:?-corpus needs a file}; shift 2 ;;
	-tools | --tools) TOOLS=${2:?-tools needs a list}; shift 2 ;;
	-no-warmup | --no-warmup) WARMUP=0; shift ;;
	-h | -help | --help) usage; exit 0 ;;
	*) echo "run.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
done
case "$RUNS" in '' | *[!0-9]* | 0) echo "run.sh: -runs $RUNS: want a number >= 1" >&2; exit 2 ;; esac
case "$SIZE" in '' | *[!0-9A-Za-z.]*) echo "run.sh: -size $SIZE: want e.g. 1G, 100M" >&2; exit 2 ;; esac
for t in ${TOOLS//,/ }; do
	case "$t" in gotrail | laurel | ausearch) ;; *) echo "run.sh: -tools: unknown tool $t" >&2; exit 2 ;; esac
done
want() { case ",$TOOLS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

log() { echo "run.sh: $*" >&2; }

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
GO=${GO:-go}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gotrail-bench.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD" 'BEGIN { exit !(l > 0.5) }'; then
	log "warning: load average is $LOAD before the runs; other work on this host makes the timings noisy"
fi

# /usr/bin/time (Debian package "time") for wall time and peak RSS.
TIME=/usr/bin/time
if [ ! -x "$TIME" ]; then
	log "$TIME is missing; installing the Debian package \"time\""
	if [ "$(id -u)" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2 ||
			{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >&2; }
	else
		sudo apt-get install -y -q time >&2
	fi
fi

# ---------------------------------------------------------------- corpus
(cd "$ROOT" && "$GO" build -o "$TMP/gencorpus" ./bench/gencorpus)
CMDS=() # the exact commands, for the report
if [ -n "$CORPUS" ]; then
	[ -r "$CORPUS" ] || { echo "run.sh: -corpus $CORPUS: not readable" >&2; exit 2; }
	FILE=$(cd "$(dirname "$CORPUS")" && pwd)/$(basename "$CORPUS")
	log "using corpus $FILE"
else
	if [ "$KEEP" = 1 ]; then
		FILE=$BENCH/.corpus-$SIZE.log
	else
		FILE=$TMP/corpus-$SIZE.log
	fi
	GEN=(go run ./bench/gencorpus -size "$SIZE" -o "$FILE")
	if [ "$KEEP" = 1 ] && [ -s "$FILE" ]; then
		log "reusing $FILE (-keep)"
	else
		log "building the corpus: ${GEN[*]}"
		"$TMP/gencorpus" -size "$SIZE" -o "$FILE.tmp"
		mv "$FILE.tmp" "$FILE"
	fi
	CMDS+=("(cd $ROOT && ${GEN[*]})")
fi
BYTES=$(stat -c %s "$FILE")
MB=$(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1e6 }')
# Events = distinct msg=audit(...) ids; this also warms the page cache.
EVENTS=$({ LC_ALL=C grep -ao 'msg=audit([0-9]*\.[0-9]*:[0-9]*)' "$FILE" || true; } | uniq | sort -u | wc -l)
RECORDS=$(wc -l <"$FILE")
log "corpus: $FILE: $BYTES bytes, $RECORDS records, $EVENTS events"

# ---------------------------------------------------------------- tools
GOTRAIL=$TMP/gotrail
GOTRAIL_OK=0
GOTRAIL_WHY=
if want gotrail; then
	log "building gotrail: go build -o $GOTRAIL ./cmd/gotrail"
	if (cd "$ROOT" && "$GO" build -o "$GOTRAIL" ./cmd/gotrail) 2>"$TMP/gotrail-build.err"; then
		# The events command must exist and print JSON lines.
		"$TMP/gencorpus" -q -size 64K -o "$TMP/probe.log"
		if "$GOTRAIL" events --all --format json "$TMP/probe.log" >"$TMP/probe.out" 2>"$TMP/probe.err" &&
			[ "$(head -c 1 "$TMP/probe.out")" = "{" ]; then
			GOTRAIL_OK=1
		else
			GOTRAIL_WHY="gotrail events --all --format json failed: $(head -n 1 "$TMP/probe.err")"
		fi
	else
		GOTRAIL_WHY="go build ./cmd/gotrail failed: $(grep -v '^#' "$TMP/gotrail-build.err" | head -n 1)"
	fi
	[ "$GOTRAIL_OK" = 1 ] || log "gotrail: not built ($GOTRAIL_WHY)"
fi

# laurel: a private config. Output to a file in the temp dir, no privilege
# drop, and no enrichment from /proc or the host's user database.
LAUREL_DIR=$TMP/laurel
LAUREL_CONF=$TMP/laurel.toml
LAUREL_OUT=$LAUREL_DIR/laurel.jsonl
mkdir -p "$LAUREL_DIR"
cat >"$LAUREL_CONF" <<EOF
# gotrail bench: laurel $(laurel --version 2>/dev/null | head -n 1) as a file filter.
# No "user": laurel stays the invoking user (no drop to _laurel).
directory = "$LAUREL_DIR"
statusreport-period = 0

[auditlog]
file = "laurel.jsonl"
# never rotate during a run
size = 1000000000000000
generations = 1

[transform]
# EXECVE arguments as a JSON list (the default).
execve-argv = [ "array" ]

[translate]
# Do not translate arch/syscall/sockaddr and not uids/gids through the
# host's user database; the ENRICHED part of the log has the names.
universal = false
user-db = false

[enrich]
# Nothing from /proc: no environment variables of the process, no
# container id, no parent-process context, no script detection.
execve-env = []
container = false
pid = false
parent-info = false
script = false

[label-process]
label-keys = []
propagate-labels = []

[filter]
filter-keys = []
filter-labels = []
EOF
if want laurel; then
	if ! command -v laurel >/dev/null; then
		log "laurel: not installed (apt-get install laurel)"
	elif ! laurel -c "$LAUREL_CONF" -d >/dev/null 2>"$TMP/laurel-dry.err"; then
		log "laurel rejects $LAUREL_CONF: $(cat "$TMP/laurel-dry.err")"
		exit 1
	fi
fi

# ---------------------------------------------------------------- runner
# cmd_for TOOL: the command line, as an array in CMD, input on stdin for laurel.
cmd_for() {
	case "$1" in
	gotrail) CMD=("$GOTRAIL" events --all --format json "$FILE") ;;
	laurel) CMD=(laurel -c "$LAUREL_CONF") ;;
	ausearch) CMD=(ausearch -if "$FILE" -i) ;;
	esac
}
shown_cmd() {
	case "$1" in
	gotrail) echo "gotrail events --all --format json $FILE > /dev/null" ;;
	laurel) echo "laurel -c $LAUREL_CONF < $FILE   # writes $LAUREL_OUT" ;;
	ausearch) echo "ausearch -if $FILE -i > /dev/null" ;;
	esac
}

# count_out TOOL: events in the output of an untimed run.
count_out() {
	cmd_for "$1"
	case "$1" in
	gotrail) { "${CMD[@]}" 2>"$TMP/$1.warm.err" || true; } | wc -l ;;
	laurel)
		rm -f "$LAUREL_OUT"
		"${CMD[@]}" <"$FILE" 2>"$TMP/$1.warm.err" || true
		if [ -f "$LAUREL_OUT" ]; then wc -l <"$LAUREL_OUT"; else echo 0; fi
		;;
	ausearch) { "${CMD[@]}" </dev/null 2>"$TMP/$1.warm.err" || true; } | grep -c '^----$' || true ;;
	esac
}

# timed TOOL I: one timed run; prints "wall_s rss_kib cpu_s exit".
timed() {
	local tool=$1 i=$2 tf=$TMP/$1.time.$2 rc=0 t0 t1 in=/dev/null
	cmd_for "$tool"
	if [ "$tool" = laurel ]; then
		rm -f "$LAUREL_OUT"
		in=$FILE
	fi
	t0=$EPOCHREALTIME
	"$TIME" -v -o "$tf" "${CMD[@]}" <"$in" >/dev/null 2>"$TMP/$tool.err.$i" || rc=$?
	t1=$EPOCHREALTIME
	# Wall time: /usr/bin/time -v has 10 ms resolution, so the wall clock
	# around it (1 ms more for starting /usr/bin/time) is printed instead
	# when the two agree; peak RSS and CPU come from /usr/bin/time -v.
	awk -v rc="$rc" -v t0="$t0" -v t1="$t1" '
		/Elapsed \(wall clock\) time/ {
			n = split($NF, p, ":"); w = 0
			for (j = 1; j <= n; j++) w = w * 60 + p[j]
		}
		/User time \(seconds\)/ { u = $NF }
		/System time \(seconds\)/ { s = $NF }
		/Maximum resident set size/ { m = $NF }
		END {
			e = t1 - t0
			if (e < w - 0.01 || e > w + 0.05) e = w
			printf "%.3f %d %.2f %d\n", e, m, u + s, rc
		}' "$tf"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A SEC RANGE RSS CPU OUT NOTE
bench_tool() {
	local tool=$1 i r walls="" rsss="" cpus=""
	cmd_for "$tool"
	CMDS+=("$(shown_cmd "$tool")")
	if [ "$WARMUP" = 1 ]; then
		log "$tool: untimed warm-up and output check"
		OUT[$tool]=$(count_out "$tool")
		if [ "$tool" = laurel ]; then
			NOTE[$tool]="stderr of the warm-up run: $(grep -o 'processed [0-9]* lines.*' "$TMP/laurel.warm.err" | tail -n 1 || true)"
		fi
	else
		cat "$FILE" >/dev/null
		OUT[$tool]=-
	fi
	for i in $(seq 1 "$RUNS"); do
		r=$(timed "$tool" "$i")
		set -- $r
		log "$tool: run $i/$RUNS: ${1}s wall, $(($2 / 1024)) MiB peak RSS, ${3}s CPU, exit $4"
		# ausearch exits 1 when it finds nothing: that is a broken run here.
		if [ "$4" != 0 ]; then
			log "$tool: exit status $4: $(head -n 3 "$TMP/$tool.err.$i")"
			NOTE[$tool]="${NOTE[$tool]:-} exit $4"
		fi
		walls+="$1"$'\n'
		rsss+="$2"$'\n'
		cpus+="$3"$'\n'
	done
	if [ "$tool" = laurel ] && [ "${OUT[$tool]}" = - ] && [ -f "$LAUREL_OUT" ]; then OUT[$tool]=$(wc -l <"$LAUREL_OUT"); fi
	SEC[$tool]=$(printf %s "$walls" | median)
	RANGE[$tool]=$(printf %s "$walls" | sort -g | sed -n '1p;$p' | paste -sd- -)
	RSS[$tool]=$(printf %s "$rsss" | median | awk '{ printf "%.1f", $1 / 1024 }')
	CPU[$tool]=$(printf %s "$cpus" | median)
}

ROWS=()
for tool in gotrail laurel ausearch; do
	want "$tool" || continue
	case "$tool" in
	gotrail) [ "$GOTRAIL_OK" = 1 ] || { ROWS+=(gotrail); continue; } ;;
	laurel) command -v laurel >/dev/null || { ROWS+=(laurel); continue; } ;;
	ausearch) command -v ausearch >/dev/null || { ROWS+=(ausearch); continue; } ;;
	esac
	bench_tool "$tool"
	ROWS+=("$tool")
done

# ---------------------------------------------------------------- report
mbps() { awk -v mb="$MB" -v s="$1" 'BEGIN { if (s > 0) printf "%.1f", mb / s; else print "-" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'; }

# row TOOL: tool | status | MB | seconds | min-max | MB/s | RSS | CPU | events out
row() {
	local t=$1
	if [ -z "${SEC[$t]:-}" ]; then
		local why="not installed"
		[ "$t" = gotrail ] && why="not built"
		printf '%s\t%s\t%s\t-\t-\t-\t-\t-\t-\n' "$t" "$why" "$MB"
	else
		printf '%s\tok\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$MB" "${SEC[$t]}" "${RANGE[$t]}" "$(mbps "${SEC[$t]}")" "${RSS[$t]}" "${CPU[$t]}" "${OUT[$t]}"
	fi
}

ratios() {
	[ -n "${SEC[gotrail]:-}" ] || { echo "ratios: gotrail not built"; return; }
	local o
	for o in laurel ausearch; do
		[ -n "${SEC[$o]:-}" ] || continue
		echo "gotrail/$o: throughput x$(ratio "${SEC[$o]}" "${SEC[gotrail]}") (MB/s of gotrail / MB/s of $o)," \
			"peak RSS x$(ratio "${RSS[gotrail]}" "${RSS[$o]}") (gotrail RSS / $o RSS)"
	done
}

{
	echo
	echo "corpus: $FILE ($MB MB, $RECORDS records, $EVENTS events); median of $RUNS run(s)"
	{
		printf 'tool\tstatus\tfile MB\tmedian s\tmin-max s\tMB/s\tpeak RSS MiB\tCPU s\tevents out\n'
		for t in "${ROWS[@]}"; do row "$t"; done
	} | awk -F '\t' '
		{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; if (NF > nf) nf = NF }
		END { for (r = 1; r <= n; r++) { line = ""; for (i = 1; i <= nf; i++) line = line sprintf(i == 1 ? "%-" w[i] "s" : "  %" w[i] "s", c[r, i]); print line } }'
	ratios
	for t in "${ROWS[@]}"; do
		if [ -n "${NOTE[$t]:-}" ]; then echo "$t: ${NOTE[$t]}"; fi
	done
	echo
	echo '---------------------------------------------------------------- markdown'
	echo
	echo "### $(date -u +%Y-%m-%d): ${SIZE} corpus, median of $RUNS run(s)"
	echo
	echo "Host: $(uname -sr), $(nproc) CPU ($(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)." \
		"Versions: $("$GO" version 2>/dev/null | awk '{ print $3 }'), laurel $(laurel --version 2>/dev/null | head -n 1), ausearch $(ausearch -v 2>/dev/null | awk '{ print $NF }' | head -n 1)."
	echo "Corpus: $(basename "$FILE"), $BYTES bytes ($MB MB), $RECORDS records, $EVENTS events. Load average before the runs: $LOAD."
	echo
	echo "| tool | file MB | median s | min-max s | MB/s | peak RSS MiB | CPU s | events out |"
	echo "|---|--:|--:|--:|--:|--:|--:|--:|"
	for t in "${ROWS[@]}"; do
		if [ -z "${SEC[$t]:-}" ]; then
			if [ "$t" = gotrail ]; then echo "| gotrail: not built | $MB | - | - | - | - | - | - |"; else echo "| $t: not installed | $MB | - | - | - | - | - | - |"; fi
		else
			echo "| $t | $MB | ${SEC[$t]} | ${RANGE[$t]} | $(mbps "${SEC[$t]}") | ${RSS[$t]} | ${CPU[$t]} | ${OUT[$t]} |"
		fi
	done
	echo
	ratios | sed 's/^/- /'
	echo
	echo "Commands (MB = 10^6 bytes; wall time and peak RSS from \`/usr/bin/time -v\`; CPU = user + sys):"
	echo
	echo '```sh'
	for c in "${CMDS[@]}"; do echo "$c"; done
	echo '```'
	echo
	echo "laurel config ($LAUREL_CONF):"
	echo
	echo '```toml'
	grep -v '^#' "$LAUREL_CONF" | grep -v '^$'
	echo '```'
}
