#!/usr/bin/env bash
# Benchmark gotrail against auditd's ausearch and laurel on the same
# real-format audit logs, in one run. See bench/README.md.
#
# usage: bench/run.sh [-size 100M] [-runs 3] [-keep] [-corpus FILE]
#                     [-tools LIST] [-before BIN] [-no-warmup]
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/run.sh [-size 100M] [-runs N] [-keep] [-corpus FILE] [-tools LIST] [-before BIN] [-no-warmup]

  -size SIZE    size of each generated corpus (K, M, G: powers of 1024; default 100M)
  -runs N       timed runs of every row; rows take turns, the median is reported (default 3)
  -keep         keep the corpora as bench/.corpus-NAME-SIZE.log and reuse them if present
  -corpus FILE  benchmark this audit log as is instead of the two generated corpora
  -tools LIST   comma-separated subset of gotrail,laurel,ausearch (default all)
  -before BIN   also time BIN (an earlier gotrail build) as the row gotrail-before
  -no-warmup    skip the untimed verification run of each row (the file is
                still read once with cat to warm the page cache)

Corpora (bench/gencorpus, replaying the real recordings in internal/audit/testdata
with fresh serials and times):
  typical     the recordings without their events of long arguments (-max-record 2000):
              what most hosts log, and the comparison the targets are about
  longargs    host-activity.log whole, whose 40 kB hex arguments are laurel's
              worst case: the long-argument worst case

Progress goes to stderr; the results (a table, then markdown for
bench/RESULTS.md with the exact commands) go to stdout.
EOF
}

SIZE=100M
RUNS=3
KEEP=0
CORPUS=
TOOLS=gotrail,laurel,ausearch
BEFORE=
WARMUP=1
while [ $# -gt 0 ]; do
	case "$1" in
	-size | --size) SIZE=${2:?-size needs a value}; shift 2 ;;
	-runs | --runs) RUNS=${2:?-runs needs a value}; shift 2 ;;
	-keep | --keep) KEEP=1; shift ;;
	-corpus | --corpus) CORPUS=${2:?-corpus needs a file}; shift 2 ;;
	-tools | --tools) TOOLS=${2:?-tools needs a list}; shift 2 ;;
	-before | --before) BEFORE=${2:?-before needs a binary}; shift 2 ;;
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
if [ -n "$BEFORE" ] && [ ! -x "$BEFORE" ]; then echo "run.sh: -before $BEFORE: not an executable" >&2; exit 2; fi

log() { echo "run.sh: $*" >&2; }

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
GO=${GO:-go}
SEEDS=("$ROOT/internal/audit/testdata/host-activity.log" "$ROOT/internal/audit/testdata/script-exec.log")

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gotrail-bench.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

LOAD=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$LOAD" 'BEGIN { exit !(l > 0.5) }'; then
	log "warning: load average is $LOAD before the runs; other work on this host makes the timings noisy (compare the ratios of one run, not MB/s across runs)"
fi

# Steal: the time the hypervisor ran other guests on this machine's CPUs
# (the 8th field of /proc/stat's cpu line, in ticks). On a shared virtual
# machine it moves the timings more than anything else: an hour with half
# the CPU stolen ran the same build 4x slower. It is reported for every
# row, so that a run on a stolen host is seen to be one.
TICK=$(getconf CLK_TCK)
NCPU=$(nproc)
steal_ticks() { awk '$1 == "cpu" { print $9 + 0; exit }' /proc/stat; }
STEAL0=$(steal_ticks)
EPOCH0=$EPOCHREALTIME

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

# ---------------------------------------------------------------- corpora
(cd "$ROOT" && "$GO" build -o "$TMP/gencorpus" ./bench/gencorpus)
CMDS=() # the exact commands, for the report
declare -A FILE BYTES MB EVENTS RECORDS LABEL
CORPORA=()
# make_corpus NAME LABEL GENCORPUS-ARGS...
make_corpus() {
	local name=$1 label=$2 f
	shift 2
	if [ "$KEEP" = 1 ]; then f=$BENCH/.corpus-$name-$SIZE.log; else f=$TMP/corpus-$name-$SIZE.log; fi
	local gen=(go run ./bench/gencorpus -size "$SIZE" "$@" -o "$f")
	if [ "$KEEP" = 1 ] && [ -s "$f" ]; then
		log "reusing $f (-keep)"
	else
		log "building the corpus: ${gen[*]}"
		"$TMP/gencorpus" -q -size "$SIZE" "$@" -o "$f.tmp"
		mv "$f.tmp" "$f"
	fi
	CMDS+=("(cd $ROOT && ${gen[*]})")
	add_corpus "$name" "$label" "$f"
}
add_corpus() {
	local name=$1 f=$3
	FILE[$name]=$f
	LABEL[$name]=$2
	BYTES[$name]=$(stat -c %s "$f")
	MB[$name]=$(awk -v b="${BYTES[$name]}" 'BEGIN { printf "%.1f", b / 1e6 }')
	# Events = distinct msg=audit(...) ids; this also warms the page cache.
	EVENTS[$name]=$({ LC_ALL=C grep -ao 'msg=audit([0-9]*\.[0-9]*:[0-9]*)' "$f" || true; } | uniq | sort -u | wc -l)
	RECORDS[$name]=$(wc -l <"$f")
	log "corpus $name: $f: ${BYTES[$name]} bytes, ${RECORDS[$name]} records, ${EVENTS[$name]} events"
	CORPORA+=("$name")
}
if [ -n "$CORPUS" ]; then
	[ -r "$CORPUS" ] || { echo "run.sh: -corpus $CORPUS: not readable" >&2; exit 2; }
	add_corpus given "the given log" "$(cd "$(dirname "$CORPUS")" && pwd)/$(basename "$CORPUS")"
else
	SEEDARGS=()
	for s in "${SEEDS[@]}"; do SEEDARGS+=(-seed "$s"); done
	make_corpus typical "real recordings, without long arguments" "${SEEDARGS[@]}" -max-record 2000
	make_corpus longargs "long-argument worst case" -seed "${SEEDS[0]}"
fi

# ---------------------------------------------------------------- tools
GOTRAIL=$TMP/gotrail
GOTRAIL_OK=0
if want gotrail; then
	log "building gotrail: go build -o $GOTRAIL ./cmd/gotrail"
	if (cd "$ROOT" && "$GO" build -o "$GOTRAIL" ./cmd/gotrail) 2>"$TMP/gotrail-build.err"; then
		"$TMP/gencorpus" -q -size 64K -o "$TMP/probe.log"
		if "$GOTRAIL" events --all --format json "$TMP/probe.log" >"$TMP/probe.out" 2>"$TMP/probe.err" &&
			[ "$(head -c 1 "$TMP/probe.out")" = "{" ]; then
			GOTRAIL_OK=1
		else
			log "gotrail: not built (events --all --format json failed: $(head -n 1 "$TMP/probe.err"))"
		fi
	else
		log "gotrail: not built (go build ./cmd/gotrail failed: $(grep -v '^#' "$TMP/gotrail-build.err" | head -n 1))"
	fi
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
LAUREL_WHY="not installed (apt-get install laurel)"
LAUREL_OK=0
if want laurel; then
	if ! command -v laurel >/dev/null; then
		log "laurel: $LAUREL_WHY"
	elif ! laurel -c "$LAUREL_CONF" -d >/dev/null 2>"$TMP/laurel-dry.err"; then
		LAUREL_WHY="rejects the config: $(head -n 1 "$TMP/laurel-dry.err")"
		log "laurel $LAUREL_WHY"
	else
		LAUREL_OK=1
	fi
fi

# The rows. gotrail's first row is the comparison with the other tools;
# the go-only and text rows are the 1 GB/s target's.
ROWS=()
if want gotrail; then ROWS+=(gotrail gotrail-goonly gotrail-text); fi
if want gotrail && [ -n "$BEFORE" ]; then ROWS+=(gotrail-before gotrail-before-goonly gotrail-before-text); fi
if want laurel; then ROWS+=(laurel); fi
if want ausearch; then ROWS+=(ausearch); fi

# runnable ROW: whether the row's tool is there.
runnable() {
	case "$1" in
	gotrail*before*) [ -n "$BEFORE" ] ;;
	gotrail*) [ "$GOTRAIL_OK" = 1 ] ;;
	laurel) [ "$LAUREL_OK" = 1 ] ;;
	ausearch) command -v ausearch >/dev/null ;;
	esac
}
why_not() {
	case "$1" in
	gotrail*) echo "not built" ;;
	laurel) echo "$LAUREL_WHY" ;;
	*) echo "not installed" ;;
	esac
}

# cmd_for ROW FILE: the command line, as an array in CMD, input on stdin for laurel.
cmd_for() {
	local bin=$GOTRAIL
	case "$1" in gotrail-before*) bin=$BEFORE ;; esac
	case "$1" in
	gotrail | gotrail-before) CMD=("$bin" events --all --format json "$2") ;;
	gotrail-goonly | gotrail-before-goonly) CMD=("$bin" events --format json "$2") ;;
	gotrail-text | gotrail-before-text) CMD=("$bin" events --all --format text "$2") ;;
	laurel) CMD=(laurel -c "$LAUREL_CONF") ;;
	ausearch) CMD=(ausearch -if "$2" -i) ;;
	esac
}
shown_cmd() {
	case "$1" in
	gotrail) echo "gotrail events --all --format json FILE > /dev/null" ;;
	gotrail-goonly) echo "gotrail events --format json FILE > /dev/null   # Go-environment events only" ;;
	gotrail-text) echo "gotrail events --all --format text FILE > /dev/null" ;;
	gotrail-before*) echo "$BEFORE events ... FILE > /dev/null   # the same three, an earlier build" ;;
	laurel) echo "laurel -c $LAUREL_CONF < FILE   # writes $LAUREL_OUT" ;;
	ausearch) echo "ausearch -if FILE -i > /dev/null" ;;
	esac
}

# count_out ROW FILE: events in the output of an untimed run.
count_out() {
	cmd_for "$1" "$2"
	case "$1" in
	gotrail*) { "${CMD[@]}" 2>"$TMP/$1.warm.err" || true; } | wc -l ;;
	laurel)
		rm -f "$LAUREL_OUT"
		"${CMD[@]}" <"$2" 2>"$TMP/$1.warm.err" || true
		if [ -f "$LAUREL_OUT" ]; then wc -l <"$LAUREL_OUT"; else echo 0; fi
		;;
	ausearch) { "${CMD[@]}" </dev/null 2>"$TMP/$1.warm.err" || true; } | grep -c '^----$' || true ;;
	esac
}

# timed ROW FILE I: one timed run; prints "wall_s rss_kib cpu_s exit
# steal_pct", steal_pct being the share of the host's CPU time stolen
# during the run.
timed() {
	local row=$1 file=$2 i=$3 tf=$TMP/time rc=0 t0 t1 s0 s1 in=/dev/null
	cmd_for "$row" "$file"
	if [ "$row" = laurel ]; then
		rm -f "$LAUREL_OUT"
		in=$file
	fi
	s0=$(steal_ticks)
	t0=$EPOCHREALTIME
	"$TIME" -v -o "$tf" "${CMD[@]}" <"$in" >/dev/null 2>"$TMP/$row.err.$i" || rc=$?
	t1=$EPOCHREALTIME
	s1=$(steal_ticks)
	# Wall time: /usr/bin/time -v has 10 ms resolution, so the wall clock
	# around it (1 ms more for starting /usr/bin/time) is printed instead
	# when the two agree; peak RSS and CPU come from /usr/bin/time -v.
	awk -v rc="$rc" -v t0="$t0" -v t1="$t1" -v st="$((s1 - s0))" -v tick="$TICK" -v ncpu="$NCPU" '
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
			printf "%.3f %d %.2f %d %.0f\n", e, m, u + s, rc, 100 * st / tick / ((t1 - t0) * ncpu)
		}' "$tf"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------- runs
# Every row of every corpus once, then again: the rows take turns, so
# that a burst of other work on the host slows all of them, not one.
declare -A WALLS RSSS CPUS STEALS OUT NOTE
for c in "${CORPORA[@]}"; do
	for r in "${ROWS[@]}"; do
		runnable "$r" || continue
		CMDS+=("$(shown_cmd "$r")")
		if [ "$WARMUP" = 1 ]; then
			log "$c/$r: untimed warm-up and output check"
			OUT[$c,$r]=$(count_out "$r" "${FILE[$c]}")
		else
			OUT[$c,$r]=-
		fi
	done
	cat "${FILE[$c]}" >/dev/null
done
mapfile -t CMDS < <(printf '%s\n' "${CMDS[@]}" | awk '!seen[$0]++')
for i in $(seq 1 "$RUNS"); do
	for c in "${CORPORA[@]}"; do
		for r in "${ROWS[@]}"; do
			runnable "$r" || continue
			res=$(timed "$r" "${FILE[$c]}" "$i")
			set -- $res
			log "$c/$r: run $i/$RUNS: ${1}s wall, $(($2 / 1024)) MiB peak RSS, ${3}s CPU, exit $4, ${5}% stolen"
			# ausearch exits 1 when it finds nothing: that is a broken run here.
			if [ "$4" != 0 ]; then
				log "$r: exit status $4: $(head -n 3 "$TMP/$r.err.$i")"
				NOTE[$c,$r]="${NOTE[$c,$r]:-} exit $4"
			fi
			WALLS[$c,$r]+="$1"$'\n'
			RSSS[$c,$r]+="$2"$'\n'
			CPUS[$c,$r]+="$3"$'\n'
			STEALS[$c,$r]+="$5"$'\n'
		done
	done
done

# ---------------------------------------------------------------- report
declare -A SEC RANGE RSS CPU STEAL
for c in "${CORPORA[@]}"; do
	for r in "${ROWS[@]}"; do
		[ -n "${WALLS[$c,$r]:-}" ] || continue
		SEC[$c,$r]=$(printf %s "${WALLS[$c,$r]}" | median)
		RANGE[$c,$r]=$(printf %s "${WALLS[$c,$r]}" | sort -g | sed -n '1p;$p' | paste -sd- -)
		RSS[$c,$r]=$(printf %s "${RSSS[$c,$r]}" | median | awk '{ printf "%.1f", $1 / 1024 }')
		CPU[$c,$r]=$(printf %s "${CPUS[$c,$r]}" | median)
		STEAL[$c,$r]=$(printf %s "${STEALS[$c,$r]}" | median)
	done
done
mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", mb / s; else print "-" }'; }
# ratio C ROW: how many times the row's throughput gotrail's is: its
# --all --format json for the other tools, the same row for an earlier build.
ratio() {
	local base=gotrail
	case "$2" in
	gotrail) echo 1.00; return ;;
	gotrail-before*) base=gotrail${2#gotrail-before} ;;
	gotrail-*) echo "-"; return ;;
	esac
	local g=${SEC[$1,$base]:-} o=${SEC[$1,$2]:-}
	awk -v a="$o" -v b="$g" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b; else print "-" }'
}

# cells C ROW: the table's cells, tab-separated.
cells() {
	local c=$1 r=$2
	if [ -z "${SEC[$c,$r]:-}" ]; then
		printf '%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\n' "$c" "$r: $(why_not "$r")" "${MB[$c]}" "${EVENTS[$c]}"
	else
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$r" "${MB[$c]}" "${EVENTS[$c]}" "${SEC[$c,$r]}" "${RANGE[$c,$r]}" \
			"$(mbps "${MB[$c]}" "${SEC[$c,$r]}")" "$(ratio "$c" "$r")" "${RSS[$c,$r]}" "${CPU[$c,$r]}" "${OUT[$c,$r]}" "${STEAL[$c,$r]}"
	fi
}
STOLEN=$(awk -v st="$(($(steal_ticks) - STEAL0))" -v tick="$TICK" -v ncpu="$NCPU" -v t0="$EPOCH0" -v t1="$EPOCHREALTIME" \
	'BEGIN { printf "%.0f", 100 * st / tick / ((t1 - t0) * ncpu) }')
if [ "$STOLEN" -ge 10 ]; then
	log "warning: the hypervisor took $STOLEN% of this host's CPU time during the runs: gotrail, on two threads, loses more to it than the single-threaded peers; do not quote these figures as the tools' speed"
fi
HEAD='corpus\trow\tfile MB\tevents\tmedian s\tmin-max s\tMB/s\tgotrail x\tpeak RSS MiB\tCPU s\tevents out\tstolen %%'

{
	echo
	for c in "${CORPORA[@]}"; do echo "corpus $c (${LABEL[$c]}): ${FILE[$c]}, ${MB[$c]} MB, ${RECORDS[$c]} records, ${EVENTS[$c]} events"; done
	echo "median of $RUNS interleaved run(s); gotrail x = MB/s of gotrail --all --format json / the row's (of the same gotrail row for gotrail-before*)"
	{
		printf "$HEAD\n"
		for c in "${CORPORA[@]}"; do for r in "${ROWS[@]}"; do cells "$c" "$r"; done; done
	} | awk -F '\t' '
		{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR; if (NF > nf) nf = NF }
		END { for (r = 1; r <= n; r++) { line = ""; for (i = 1; i <= nf; i++) line = line sprintf(i <= 2 ? "%-" w[i] "s  " : "%" w[i] "s  ", c[r, i]); print line } }'
	for k in "${!NOTE[@]}"; do echo "$k: ${NOTE[$k]}"; done
	echo
	echo '---------------------------------------------------------------- markdown'
	echo
	echo "### $(date -u +%Y-%m-%d): ${SIZE} corpora, median of $RUNS interleaved run(s)"
	echo
	echo "Host: $(uname -sr), $(nproc) CPU ($(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)." \
		"Versions: $("$GO" version 2>/dev/null | awk '{ print $3 }'), laurel $(laurel --version 2>/dev/null | head -n 1), ausearch $(ausearch -v 2>/dev/null | awk '{ print $NF }' | head -n 1)." \
		"Load average before the runs: $LOAD, after: $(cut -d' ' -f1 /proc/loadavg)." \
		"Stolen by the hypervisor over the whole run: $STOLEN% of the host's CPU time."
	echo
	for c in "${CORPORA[@]}"; do echo "- $c (${LABEL[$c]}): $(basename "${FILE[$c]}"), ${BYTES[$c]} bytes, ${RECORDS[$c]} records, ${EVENTS[$c]} events"; done
	echo
	echo "| corpus | row | MB/s | gotrail x | peak RSS MiB | median s | min-max s | CPU s | events out | stolen % |"
	echo "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
	for c in "${CORPORA[@]}"; do
		for r in "${ROWS[@]}"; do
			cells "$c" "$r" | awk -F '\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $7, $8, $9, $5, $6, $10, $11, $12 }'
		done
	done
	echo
	echo "Commands (FILE is each corpus; MB = 10^6 bytes; wall time and peak RSS from \`/usr/bin/time -v\`; CPU = user + sys):"
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
