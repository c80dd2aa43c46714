#!/usr/bin/env bash
# Count the instructions `gotrail events` executes on an audit log, under
# valgrind's callgrind: a measure that does not move with what else the
# machine runs, for comparing two builds on a shared, noisy host where wall
# and CPU times spread by more than the change being measured.
#
# usage: bench/instructions.sh [-mb N] [-format json|text|goonly] [-before REV] CORPUS
set -euo pipefail

usage() {
	cat <<'EOF'
usage: bench/instructions.sh [-mb N] [-format json|text|goonly] [-before REV] [-gc] CORPUS

  -mb N         MiB of CORPUS to run (default 10; callgrind runs about 50 times slower)
  -format F     json: --all --format json (default); text: --all --format text;
                goonly: --format json (the Go environment's events only)
  -before REV   also count the build of git revision REV (a worktree in a temp dir)
  -gc           keep the garbage collector on (GOGC as set; default GOGC=off)

Runs BenchmarkEventsCorpus (internal/pipeline) once with one worker, under
valgrind --tool=callgrind --branch-sim=yes, and prints for each build the
instructions (Ir), conditional branches mispredicted (Bcm) and
Ir + 15*(Bcm+Bim) as a rough estimate of cycles. The counts are of the
whole test binary's run: reading the corpus into memory included, the same
for both builds. With -mb above 1 each build also runs on 1 MiB, and the
line "per MiB" is the difference over the MiB between: the cost of the
input itself, without start-up (the corpus read, user names and tables,
about 10M instructions). The collector is off unless -gc: its
cycles start when the heap grows and the timer-driven parts of the runtime
run as the machine lets them, which moved the counts by up to 4% on a
loaded host. Needs valgrind (apt-get install valgrind).
EOF
}

MB=10
GC=0
FORMAT=json
BEFORE=
while [ $# -gt 0 ]; do
	case "$1" in
	-mb | --mb) MB=${2:?-mb needs a number}; shift 2 ;;
	-format | --format) FORMAT=${2:?-format needs json, text or goonly}; shift 2 ;;
	-before | --before) BEFORE=${2:?-before needs a git revision}; shift 2 ;;
	-h | -help | --help) usage; exit 0 ;;
	-*) echo "instructions.sh: unknown flag $1" >&2; usage >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { usage >&2; exit 2; }
CORPUS=$(realpath "$1")
[ -r "$CORPUS" ] || { echo "instructions.sh: $1: not a readable file" >&2; exit 2; }
case "$FORMAT" in json | text | goonly) ;; *) echo "instructions.sh: -format $FORMAT: want json, text or goonly" >&2; exit 2 ;; esac
case "$MB" in '' | *[!0-9]* | 0) echo "instructions.sh: -mb $MB: want a number >= 1" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || { echo "instructions.sh: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/gotrail-instr.XXXXXX")
cleanup() {
	if [ -d "$TMP/before" ]; then git -C "$ROOT" worktree remove --force "$TMP/before" >/dev/null 2>&1 || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT

# build DIR NAME: the pipeline test binary of the tree at DIR, with this
# tree's copy of the benchmark, so that both builds run the same harness
build() {
	if [ "$1" != "$ROOT" ]; then
		cp "$ROOT/internal/pipeline/corpus_bench_test.go" "$1/internal/pipeline/"
	fi
	(cd "$1" && "$GO" test -c -o "$TMP/$2.test" ./internal/pipeline) >&2
	if ! "$TMP/$2.test" -test.list '^BenchmarkEventsCorpus$' | grep -q .; then
		echo "instructions.sh: the $2 build has no BenchmarkEventsCorpus" >&2
		return 1
	fi
}

# count NAME MB: one run under callgrind on MB MiB; prints Ir, Bcm and the
# estimate, space-separated
count() {
	local gogc=${GOGC:-}
	[ "$GC" = 1 ] || gogc=off
	# no asynchronous preemption (valgrind does not pass its signals well)
	# and one P, so that the run is the same every time
	GOGC=$gogc GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 GOTRAIL_BENCH_CORPUS=$CORPUS GOTRAIL_BENCH_MB=$2 \
		GOTRAIL_BENCH_FORMAT=$FORMAT GOTRAIL_BENCH_WORKERS=1 \
		valgrind --tool=callgrind --branch-sim=yes --callgrind-out-file="$TMP/$1.$2.out" \
		"$TMP/$1.test" -test.run '^$' -test.bench '^BenchmarkEventsCorpus$' -test.benchtime 1x \
		>"$TMP/$1.$2.log" 2>&1 || { echo "instructions.sh: $1 failed under valgrind:" >&2; tail -n 20 "$TMP/$1.$2.log" >&2; return 1; }
	awk '/Collected :/ { printf "%d %d %.0f\n", $4, $6, $4 + 15 * ($6 + $8) }' "$TMP/$1.$2.log"
}

# report NAME: the counts of NAME, and per MiB beyond the first when -mb > 1
report() {
	local whole one
	whole=$(count "$1" "$MB")
	read -r ir bcm est <<<"$whole"
	printf '%-8s Ir %13d  Bcm %11d  est. cycles %13.0f\n' "$1" "$ir" "$bcm" "$est"
	if [ "$MB" -gt 1 ]; then
		one=$(count "$1" 1)
		read -r ir1 bcm1 est1 <<<"$one"
		printf '%-8s per MiB: Ir %11.0f  Bcm %9.0f  est. cycles %11.0f\n' "$1" \
			"$(((ir - ir1) / (MB - 1)))" "$(((bcm - bcm1) / (MB - 1)))" "$(((est - est1) / (MB - 1)))"
	fi
}

echo "instructions.sh: building" >&2
build "$ROOT" now
if [ -n "$BEFORE" ]; then
	git -C "$ROOT" worktree add --detach "$TMP/before" "$BEFORE" >/dev/null 2>&1 ||
		{ echo "instructions.sh: -before $BEFORE: not a revision of $ROOT" >&2; exit 2; }
	build "$TMP/before" before
fi
echo "instructions.sh: $MB MiB of $CORPUS, $FORMAT, one worker, GOGC=$([ "$GC" = 1 ] && echo "${GOGC:-100}" || echo off), under callgrind" >&2
[ -z "$BEFORE" ] || report before
report now
