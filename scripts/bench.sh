#!/usr/bin/env bash
# Measure the engine against real baselines in one run and write a table.
#
# Usage: SIZE=256MiB scripts/bench.sh        (or: SIZE=256MiB make bench)
#   SIZE           input size per kind: 1GiB (default), 256MiB, 64MiB, 512M, 1000000 ...
#                  (K/M/G/T and KiB/MiB/GiB/TiB are all powers of 1024)
#   BENCH_CACHE    where generated inputs are kept (default ~/.cache/gomr-bench);
#                  SIZE's inputs go to BENCH_CACHE/SIZE and are reused
#   BENCH_TIMEOUT  seconds allowed to each measured command (default 1800)
#   BENCH_X4       0 skips the memory check on 4x SIZE of text (default 1: run it)
#   DUCK           where npm's @duckdb/node-api is installed (default ~/.cache/gomr-duckdb,
#                  shared with scripts/test-columnar.sh); installed there if missing
#
# Word count on SIZE bytes of text (8 files): the engine with apps/wc (with
# Combine) and apps/wclab (the lab's code, no Combine), the engine's wc over
# the same text four times over (32 files through symlinks: its largest
# worker must not grow with the input), mr seq, the ceiling bench/wcceil
# (hand-written, in-memory, all cores), DuckDB and a coreutils pipeline.
# Sort on SIZE bytes of 100-byte records (8 files): the engine with
# apps/sort, if it is built, GNU sort and DuckDB. DuckDB is npm's
# @duckdb/node-api, run by node; without node and npm, or when npm cannot
# install it, its rows say why they were skipped. Each command runs once,
# under GNU time, on inputs already in the page cache. Outputs are checked
# (word counts against the ceiling, sorts against GNU sort); any mismatch
# or failure makes the script exit 1 after writing the results.
#
# Results: bench/results/bench-SIZE-DATE.{md,json} and bench/results/latest.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CALLER_DIR=$PWD
cd "$ROOT"
NFILES=8
TIMEOUT=${BENCH_TIMEOUT:-1800}
NPROC=$(nproc)
SEQ_LIMIT=$((1 << 30)) # mr seq holds the whole job in memory

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# parse_size prints the number of bytes SIZE stands for.
parse_size() {
	[[ $1 =~ ^([0-9]+)(B|K|KiB|M|MiB|G|GiB|T|TiB)?$ ]] ||
		die "SIZE=$1: want a number of bytes, optionally with K, M, G, T (or KiB, MiB, GiB, TiB), e.g. 256MiB"
	local n=$((10#${BASH_REMATCH[1]})) shift=0
	case ${BASH_REMATCH[2]} in
	K | KiB) shift=10 ;;
	M | MiB) shift=20 ;;
	G | GiB) shift=30 ;;
	T | TiB) shift=40 ;;
	esac
	echo $((n << shift))
}

# size_label prints bytes in the largest binary unit that divides them.
size_label() {
	local b=$1 u
	for u in TiB:40 GiB:30 MiB:20 KiB:10; do
		if ((b >= 1 << ${u#*:} && b % (1 << ${u#*:}) == 0)); then
			echo "$((b >> ${u#*:}))${u%:*}"
			return
		fi
	done
	echo "${b}B"
}

SIZE_BYTES=$(parse_size "${SIZE:-1GiB}")
LABEL=$(size_label "$SIZE_BYTES")
TEXT_PER_FILE=$((SIZE_BYTES / NFILES))
REC_PER_FILE=$((TEXT_PER_FILE / 100 * 100)) # mr gen rounds down to whole records
TEXT_BYTES=$((TEXT_PER_FILE * NFILES))
REC_BYTES=$((REC_PER_FILE * NFILES))
CACHE=${BENCH_CACHE:-$HOME/.cache/gomr-bench}/$LABEL
[[ $CACHE == /* ]] || CACHE=$CALLER_DIR/$CACHE
((TEXT_PER_FILE > 0)) || die "SIZE=$LABEL: want at least $NFILES bytes"

# --- tools ---
if ! /usr/bin/time --version 2>&1 | grep -q GNU; then
	command -v apt-get >/dev/null || die "GNU time (/usr/bin/time) is missing; install it"
	log "installing GNU time"
	timeout 600 apt-get install -y time >/dev/null ||
		{ timeout 600 apt-get update >/dev/null && timeout 600 apt-get install -y time >/dev/null; } ||
		die "could not install GNU time"
fi
for t in timeout sort tr uniq cmp go make; do
	command -v $t >/dev/null || die "$t is missing"
done

# --- build ---
# Only the apps measured here, through the Makefile so that they are built
# with bin/mr's flags: an app someone is halfway through writing must not
# stop the benchmark.
log "building"
make --no-print-directory build >&2
make --no-print-directory apps APPS="wc wclab" >&2
SORT_APP=bin/apps/sort.so
SORT_STATUS="app not built"
if [[ -d apps/sort ]]; then
	if make --no-print-directory apps APPS=sort >&2; then
		SORT_STATUS=ok
	else
		SORT_STATUS="app does not build"
	fi
elif [[ -f $SORT_APP ]]; then
	SORT_STATUS=ok
fi
go build -o bin/wcceil ./bench/wcceil

# DuckDB: install @duckdb/node-api into DUCK once, and the script that runs
# the benchmark's SQL. DUCK_SKIP says why there is no DuckDB.
DUCK=${DUCK:-$HOME/.cache/gomr-duckdb}
DUCK_SKIP=
DUCK_VERSION=
duck_setup() {
	command -v node >/dev/null && command -v npm >/dev/null || { DUCK_SKIP="node and npm are not installed"; return 1; }
	if [[ ! -d $DUCK/node_modules/@duckdb/node-api ]]; then
		log "installing @duckdb/node-api into $DUCK"
		mkdir -p "$DUCK" || { DUCK_SKIP="cannot make $DUCK"; return 1; }
		if ! (cd "$DUCK" && timeout 300 npm install --no-audit --no-fund --silent @duckdb/node-api >npm.log 2>&1); then
			DUCK_SKIP="npm could not install @duckdb/node-api: $(tail -1 "$DUCK/npm.log")"
			return 1
		fi
	fi
	cat >"$DUCK/bench.mjs" <<'EOF'
// node bench.mjs SQL...: run each SQL statement in turn in an in-memory
// DuckDB, and print the rows of the last, tab-separated.
import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
let r;
for (const sql of process.argv.slice(2)) r = await c.runAndReadAll(sql);
if (r) for (const row of r.getRows()) console.log(row.map(String).join('\t'));
EOF
	DUCK_VERSION=$(cd "$DUCK" && timeout 60 node bench.mjs "SELECT version()" 2>/dev/null) ||
		{ DUCK_SKIP="node could not load @duckdb/node-api"; return 1; }
}
duck_setup || log "no DuckDB rows: $DUCK_SKIP"

# --- inputs ---
# have_inputs DIR PATTERN BYTES: DIR holds NFILES files of BYTES bytes each.
have_inputs() {
	local i f
	for ((i = 0; i < NFILES; i++)); do
		f=$1/$(printf "$2" "$i")
		[[ -f $f && $(stat -c %s "$f") == "$3" ]] || return 1
	done
}
# gen_inputs KIND PATTERN BYTES GEN_SIZE: unless CACHE/KIND holds NFILES
# files of BYTES bytes, generate them with mr gen --size GEN_SIZE.
gen_inputs() {
	local dir=$CACHE/$1
	if have_inputs "$dir" "$2" "$3"; then
		log "reusing $dir"
		return
	fi
	log "generating $1 inputs into $dir"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	timeout "$TIMEOUT" bin/mr gen --kind "$1" --files "$NFILES" --size "$4" --out "$dir.tmp"
	have_inputs "$dir.tmp" "$2" "$3" || die "mr gen wrote unexpected sizes into $dir.tmp"
	mv "$dir.tmp" "$dir"
}
gen_inputs text "text-%d.txt" "$TEXT_PER_FILE" "$TEXT_PER_FILE"
gen_inputs records "records-%d.txt" "$REC_PER_FILE" "$TEXT_PER_FILE"
# The same text as one-column Parquet files (mr gen --format parquet writes
# the lines mr gen writes, as rows of a column "line").
if [[ ! -f $CACHE/parquet/.done ]]; then
	log "generating Parquet text inputs into $CACHE/parquet"
	rm -rf "$CACHE/parquet" && mkdir -p "$CACHE/parquet"
	timeout "$TIMEOUT" bin/mr gen --format parquet --files "$NFILES" --size "$TEXT_PER_FILE" --out "$CACHE/parquet" &&
		touch "$CACHE/parquet/.done" || die "mr gen --format parquet failed"
fi
TEXT=()
RECS=()
PARQUET=()
for ((i = 0; i < NFILES; i++)); do
	TEXT+=("$CACHE/text/text-$i.txt")
	RECS+=("$CACHE/records/records-$i.txt")
	PARQUET+=("$CACHE/parquet/text-$i.parquet")
done
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
# Read everything once so that every command finds it in the page cache.
cat "${TEXT[@]}" "${RECS[@]}" >/dev/null

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gomr-bench.XXXXXX")
CHILD= # the timeout process of the command being measured, leader of its process group

# reap_group PGID: give the processes left in group PGID 10 seconds to
# exit, then kill them. It fails when some were left.
reap_group() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 -- "-$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL -- "-$1" 2>/dev/null || true
	return 1
}
cleanup() {
	if [[ -n $CHILD ]]; then
		kill -TERM -- "-$CHILD" 2>/dev/null || true
		reap_group "$CHILD" || true
		wait "$CHILD" 2>/dev/null || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# --- measuring ---
# Rows, by index: what ran and what came of it. Empty means n/a.
R_NAME=() R_CMD=() R_KIND=() R_BYTES=() R_WALL=() R_RSS=() R_RSS_SRC=() R_MRSS=() R_WRSS=() R_INTER=() R_CHECK=() R_NOTE=()
FAILED=0

# add_row NAME KIND CMD: start a row; its fields are then set by index $ROW.
add_row() {
	ROW=${#R_NAME[@]}
	R_NAME+=("$1") R_KIND+=("$2") R_CMD+=("$3")
	if [[ $2 == text ]]; then R_BYTES+=("$TEXT_BYTES"); else R_BYTES+=("$REC_BYTES"); fi
	R_WALL+=("") R_RSS+=("") R_RSS_SRC+=("") R_MRSS+=("") R_WRSS+=("") R_INTER+=("") R_CHECK+=("") R_NOTE+=("")
}

# measure STDOUT CMD...: run CMD under timeout and GNU time, stdout to
# STDOUT and stderr to $WORK/stderr, and fill the current row's wall time
# and peak RSS. Returns CMD's status.
#
# timeout puts itself, time and CMD in a process group of their own, which
# is how they are stopped: on expiry timeout signals the whole group, and
# the INT/TERM trap does the same. Then time may exit before CMD does (a
# Go program that catches the signal can take a while), and timeout with
# it; reap_group makes sure nothing of the group outlives the row. CMD
# runs in the background only so that the trap can run during the wait.
measure() {
	local out=$1 rc=0 start=$SECONDS leak=
	shift
	log "running ${R_NAME[ROW]}"
	timeout -k 10 "$TIMEOUT" /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$out" 2>"$WORK/stderr" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	if ! reap_group "$CHILD"; then
		log "${R_NAME[ROW]}: killed the processes it left running"
		if ((rc == 0)); then # a leak, not the aftermath of a timeout
			leak=1 rc=1
		fi
	fi
	CHILD=
	# GNU time prints "Command exited with non-zero status N" first when
	# the command fails; the numbers are on the last line.
	local wall= kib=
	read -r wall kib < <(tail -n 1 "$WORK/time" 2>/dev/null) || true
	if [[ $wall =~ ^[0-9.]+$ && $kib =~ ^[0-9]+$ ]]; then
		R_WALL[ROW]=$wall
		R_RSS[ROW]=$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')
		R_RSS_SRC[ROW]=time
	fi
	if ((rc != 0)); then
		FAILED=1
		# 124: timeout's TERM; 137: its KILL, or the kernel's when
		# memory ran out.
		if [[ -n $leak ]]; then
			R_CHECK[ROW]="FAILED (left processes running after it exited)"
		elif ((rc == 124 || rc == 137 && SECONDS - start >= TIMEOUT)); then
			R_CHECK[ROW]="FAILED (timeout ${TIMEOUT}s)"
		elif ((rc == 137)); then
			R_CHECK[ROW]="FAILED (SIGKILL: out of memory?)"
		else
			R_CHECK[ROW]="FAILED (exit $rc)"
		fi
		log "${R_NAME[ROW]} failed with status $rc; the end of its stderr:"
		tail -n 5 "$WORK/stderr" | sed 's/^/    /' >&2
	fi
	return $rc
}

# to_mib NUMBER UNIT prints NUMBER UNIT (B, KiB, MiB or GiB) in MiB.
to_mib() {
	awk -v n="$1" -v u="$2" 'BEGIN {
		f = u == "B" ? 1 / 1048576 : u == "KiB" ? 1 / 1024 : u == "GiB" ? 1024 : 1
		printf "%.1f", n * f
	}'
}

# mr_summary: take peak RSS and intermediate bytes from mr run's summary
# ("mr run: done: ... peak RSS: master X MiB, largest worker Y MiB;
# intermediate Z MiB written"), when it prints one; GNU time's figures stay
# otherwise. Any line of its stderr will do, and any of B, KiB, MiB, GiB.
mr_summary() {
	local line u='(B|KiB|MiB|GiB)' m w
	line=$(grep -E 'peak RSS:|intermediate [0-9]|^mr run: done:' "$WORK/stderr" | tr '\n' ' ') || true
	if [[ $line =~ peak\ RSS:\ master\ ([0-9.]+)\ $u,\ largest\ worker\ ([0-9.]+)\ $u ]]; then
		m=$(to_mib "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
		w=$(to_mib "${BASH_REMATCH[3]}" "${BASH_REMATCH[4]}")
		R_MRSS[ROW]=$m R_WRSS[ROW]=$w R_RSS_SRC[ROW]=mr
		R_RSS[ROW]=$(awk -v m="$m" -v w="$w" 'BEGIN { printf "%.1f", (m > w ? m : w) }')
	fi
	if [[ $line =~ intermediate\ ([0-9.]+)\ $u ]]; then
		R_INTER[ROW]=$(to_mib "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}")
	fi
	if [[ $line =~ done:\ ([0-9]+)\ map\ and\ ([0-9]+)\ reduce\ tasks\ on\ ([0-9]+)\ workers ]]; then
		R_NOTE[ROW]="${BASH_REMATCH[1]} maps, ${BASH_REMATCH[2]} reduces, ${BASH_REMATCH[3]} workers"
	fi
}

# check_same FILE REF REF_OK: the row's check is ok when FILE equals REF;
# REF_OK is empty when the reference run failed.
check_same() {
	[[ -n ${R_CHECK[ROW]} ]] && return # it failed already
	if [[ -z $3 ]]; then
		R_CHECK[ROW]="unchecked (no reference)"
		FAILED=1
	elif cmp -s "$1" "$2"; then
		R_CHECK[ROW]=ok
	else
		R_CHECK[ROW]=MISMATCH
		FAILED=1
		log "${R_NAME[ROW]}: output differs from the reference:"
		diff "$1" "$2" 2>&1 | head -n 6 | sed 's/^/    /' >&2 || true
	fi
}

# sorted_outputs DIR: the mr-out-* files of DIR, sorted in byte order.
sorted_outputs() { LC_ALL=C sort -S 1G "$1"/mr-out-* 2>/dev/null || true; }

# 1. The ceiling, first: it is the reference for every word count.
CEIL_OK=
add_row "wcceil (ceiling)" text "bin/wcceil TEXT"
if measure "$WORK/ceil.out" bin/wcceil "${TEXT[@]}"; then
	CEIL_OK=1
	R_CHECK[ROW]="reference"
fi
CEIL_ROW=$ROW

# 2. The engine, word count with and without Combine.
for app in wc wclab; do
	add_row "mr run $app" text "bin/mr run --out OUT bin/apps/$app.so TEXT"
	rm -rf "$WORK/out" && mkdir -p "$WORK/out"
	if measure /dev/null bin/mr run --out "$WORK/out" "bin/apps/$app.so" "${TEXT[@]}"; then
		mr_summary
		sorted_outputs "$WORK/out" >"$WORK/got"
		check_same "$WORK/got" "$WORK/ceil.out" "$CEIL_OK"
	fi
	rm -rf "$WORK/out" "$WORK/got"
done

# 2b. Columnar output: the same word count writing Parquet, its rows read
# back by DuckDB when it is there.
add_row "mr run wc, Parquet output" text "bin/mr run --output-format parquet --out OUT bin/apps/wc.so TEXT"
rm -rf "$WORK/out" && mkdir -p "$WORK/out"
if measure /dev/null bin/mr run --output-format parquet --out "$WORK/out" bin/apps/wc.so "${TEXT[@]}"; then
	mr_summary
	if [[ -z $DUCK_SKIP ]]; then
		(cd "$DUCK" && node bench.mjs "SELECT key || ' ' || value FROM read_parquet('$WORK/out/*.parquet')") | LC_ALL=C sort -S 1G >"$WORK/got"
		check_same "$WORK/got" "$WORK/ceil.out" "$CEIL_OK"
	else
		R_CHECK[ROW]="unchecked (no DuckDB: $DUCK_SKIP)"
	fi
fi
rm -rf "$WORK/out" "$WORK/got"

# 2c. Columnar input: the same words, read from the Parquet copies.
add_row "mr run wc, Parquet input" text "bin/mr run --out OUT bin/apps/wc.so PARQUET"
rm -rf "$WORK/out" && mkdir -p "$WORK/out"
if measure /dev/null bin/mr run --out "$WORK/out" bin/apps/wc.so "${PARQUET[@]}"; then
	mr_summary
	sorted_outputs "$WORK/out" >"$WORK/got"
	check_same "$WORK/got" "$WORK/ceil.out" "$CEIL_OK"
fi
rm -rf "$WORK/out" "$WORK/got"

# 2d. The memory check: the same word count over the text four times over,
# 32 files through symlinks. Its largest worker should be that of the
# SIZE run: it is set by a split and the map buffer, not by the input.
add_row "mr run wc, 4x the text" text "bin/mr run --out OUT bin/apps/wc.so TEXT TEXT TEXT TEXT (as $((4 * NFILES)) symlinks)"
R_BYTES[ROW]=$((4 * TEXT_BYTES))
if [[ ${BENCH_X4:-1} == 0 ]]; then
	R_CHECK[ROW]="skipped (BENCH_X4=0)"
else
	mkdir -p "$WORK/x4"
	X4=()
	for ((c = 0; c < 4; c++)); do
		for ((i = 0; i < NFILES; i++)); do
			ln -s "${TEXT[i]}" "$WORK/x4/text-$c-$i.txt"
			X4+=("$WORK/x4/text-$c-$i.txt")
		done
	done
	rm -rf "$WORK/out" && mkdir -p "$WORK/out"
	if measure /dev/null bin/mr run --out "$WORK/out" bin/apps/wc.so "${X4[@]}"; then
		mr_summary
		sorted_outputs "$WORK/out" >"$WORK/got"
		# Each word once, so the lines stay in the same order with their
		# counts multiplied.
		awk '{ print $1, $2 * 4 }' "$WORK/ceil.out" >"$WORK/ceil4.out" 2>/dev/null || true
		check_same "$WORK/got" "$WORK/ceil4.out" "$CEIL_OK"
	fi
	rm -rf "$WORK/out" "$WORK/got" "$WORK/ceil4.out" "$WORK/x4"
fi

# 2e. DuckDB, the same count in SQL: the ASCII words of each line, as
# apps/wc's letters are on this text, grouped and counted.
sql_list() { # the SQL list of the file names given
	local f l=
	for f in "$@"; do l+="${l:+,}'$f'"; done
	echo "[$l]"
}
# Lines as one VARCHAR column: no quoting, and a tab, which neither kind of
# input holds, as the delimiter.
duck_lines() { echo "read_csv($(sql_list "$@"), columns={'line': 'VARCHAR'}, header=false, delim='\t', quote='', escape='', auto_detect=false)"; }
# duck SQL: run SQL in DuckDB (in DUCK, spilling into WORK/ducktmp), measured.
duck() {
	mkdir -p "$WORK/ducktmp"
	R_NOTE[ROW]="DuckDB $DUCK_VERSION, $NPROC threads"
	measure /dev/null bash -c 'cd "$1" && exec node bench.mjs "SET temp_directory = '"'"'$2'"'"'" "$3"' _ "$DUCK" "$WORK/ducktmp" "$1"
}
add_row "DuckDB wc" text "node bench.mjs \"COPY (SELECT w || ' ' || count(*) FROM (SELECT unnest(regexp_extract_all(line, '[A-Za-z]+')) AS w FROM read_csv(TEXT, one VARCHAR column)) GROUP BY w) TO OUT\""
if [[ -n $DUCK_SKIP ]]; then
	R_CHECK[ROW]="skipped ($DUCK_SKIP)"
else
	if duck "COPY (SELECT w || ' ' || count(*) FROM (SELECT unnest(regexp_extract_all(line, '[A-Za-z]+')) AS w FROM $(duck_lines "${TEXT[@]}")) GROUP BY w) TO '$WORK/duck.out' (FORMAT csv, HEADER false, QUOTE '')"; then
		LC_ALL=C sort -S 1G "$WORK/duck.out" >"$WORK/got"
		check_same "$WORK/got" "$WORK/ceil.out" "$CEIL_OK"
	fi
	rm -rf "$WORK/duck.out" "$WORK/got" "$WORK/ducktmp"
fi

# 3. The engine's sequential reference.
add_row "mr seq wc" text "bin/mr seq --out OUT bin/apps/wc.so TEXT"
if ((SIZE_BYTES > SEQ_LIMIT)); then
	R_CHECK[ROW]="skipped (SIZE > 1GiB: mr seq holds the whole job in memory)"
else
	rm -rf "$WORK/out" && mkdir -p "$WORK/out"
	if measure /dev/null bin/mr seq --out "$WORK/out" bin/apps/wc.so "${TEXT[@]}"; then
		sorted_outputs "$WORK/out" >"$WORK/got"
		check_same "$WORK/got" "$WORK/ceil.out" "$CEIL_OK"
	fi
	rm -rf "$WORK/out" "$WORK/got"
fi

# 4. coreutils. Its words are ASCII letters only, so its output differs
# from ours by design; it is timed, not checked.
add_row "coreutils tr, sort, uniq" text "cat TEXT | LC_ALL=C tr -cs A-Za-z '\\n' | LC_ALL=C sort --parallel=$NPROC -S 2G | uniq -c"
if measure /dev/null bash -c 'set -o pipefail; n=$1; shift
	cat "$@" | LC_ALL=C tr -cs A-Za-z "\n" | LC_ALL=C sort --parallel="$n" -S 2G | uniq -c' \
	_ "$NPROC" "${TEXT[@]}"; then
	R_CHECK[ROW]="timed only (ASCII words)"
fi
rm -f "$WORK/ceil.out"

# 5. Sort: GNU sort first, as the reference.
GNU_OK=
add_row "GNU sort" records "LC_ALL=C sort --parallel=$NPROC -S 2G RECORDS > OUT"
if measure "$WORK/gnusort.out" env LC_ALL=C sort --parallel="$NPROC" -S 2G "${RECS[@]}"; then
	GNU_OK=1
	R_CHECK[ROW]="reference"
fi
GNU_ROW=$ROW

add_row "mr run sort" records "bin/mr run --out OUT bin/apps/sort.so RECORDS"
if [[ $SORT_STATUS != ok ]]; then
	R_CHECK[ROW]="skipped (sort: $SORT_STATUS)"
	log "sort: $SORT_STATUS"
else
	rm -rf "$WORK/out" && mkdir -p "$WORK/out"
	if measure /dev/null bin/mr run --out "$WORK/out" "$SORT_APP" "${RECS[@]}"; then
		mr_summary
		# mr-out-0, mr-out-1, ... in numeric order must be the sorted input.
		n=$(find "$WORK/out" -maxdepth 1 -name 'mr-out-*' | wc -l)
		parts=()
		for ((i = 0; i < n; i++)); do parts+=("$WORK/out/mr-out-$i"); done
		if ! cat "${parts[@]}" >"$WORK/got" 2>/dev/null; then
			R_CHECK[ROW]="MISMATCH (mr-out-* not numbered 0..$((n - 1)))"
			FAILED=1
		elif [[ -z $GNU_OK ]]; then
			R_CHECK[ROW]="unchecked (no reference)"
			FAILED=1
		elif cmp -s "$WORK/got" "$WORK/gnusort.out"; then
			R_CHECK[ROW]=ok
		else
			FAILED=1
			if LC_ALL=C sort -c "$WORK/got" 2>/dev/null; then
				R_CHECK[ROW]="MISMATCH (sorted, but not the same lines)"
			else
				R_CHECK[ROW]="MISMATCH (not globally sorted)"
			fi
			log "mr run sort: ${R_CHECK[ROW]}"
		fi
	fi
	rm -rf "$WORK/out" "$WORK/got"
fi
# DuckDB: the records as lines, ordered by their first 10 bytes, written
# back as text.
add_row "DuckDB sort" records "node bench.mjs \"COPY (SELECT line FROM read_csv(RECORDS, one VARCHAR column) ORDER BY left(line, 10)) TO OUT\""
if [[ -n $DUCK_SKIP ]]; then
	R_CHECK[ROW]="skipped ($DUCK_SKIP)"
else
	if duck "COPY (SELECT line FROM $(duck_lines "${RECS[@]}") ORDER BY left(line, 10)) TO '$WORK/duck.out' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '')"; then
		if [[ -z $GNU_OK ]]; then
			R_CHECK[ROW]="unchecked (no reference)"
			FAILED=1
		elif cmp -s "$WORK/duck.out" "$WORK/gnusort.out"; then
			R_CHECK[ROW]=ok
		else
			R_CHECK[ROW]=MISMATCH
			FAILED=1
			log "DuckDB sort: output differs from GNU sort's"
		fi
	fi
	rm -rf "$WORK/duck.out" "$WORK/ducktmp"
fi
rm -f "$WORK/gnusort.out"

# 5. Many small files: Go's own source tree, against the same bytes packed
# into NFILES files. Packing small files into map tasks should keep the two
# close. Its size does not depend on SIZE.
GOSRC_FILES=()
while IFS= read -r -d '' f; do GOSRC_FILES+=("$f"); done < <(find "$(go env GOROOT)/src" -name '*.go' -type f -print0 | LC_ALL=C sort -z)
GOSRC_DIR=${BENCH_CACHE:-$HOME/.cache/gomr-bench}/gosrc-$NFILES
[[ $GOSRC_DIR == /* ]] || GOSRC_DIR=$CALLER_DIR/$GOSRC_DIR
if [[ ! -f $GOSRC_DIR/done ]]; then
	log "packing ${#GOSRC_FILES[@]} Go source files into $GOSRC_DIR"
	rm -rf "$GOSRC_DIR" && mkdir -p "$GOSRC_DIR"
	per=$(((${#GOSRC_FILES[@]} + NFILES - 1) / NFILES))
	for ((i = 0; i < NFILES; i++)); do
		# awk 1 ends each file with a newline, so no words join across files.
		LC_ALL=C awk 1 "${GOSRC_FILES[@]:i*per:per}" >"$GOSRC_DIR/part-$i.go"
	done
	touch "$GOSRC_DIR/done"
fi
GOSRC_PACKED=("$GOSRC_DIR"/part-*.go)
GOSRC_BYTES=$(cat "${GOSRC_PACKED[@]}" | wc -c)
cat "${GOSRC_FILES[@]}" "${GOSRC_PACKED[@]}" >/dev/null
GOSRC_OK= GOSRC_ROW=
for variant in packed many; do
	if [[ $variant == packed ]]; then
		files=("${GOSRC_PACKED[@]}") name="mr run wc, Go source in $NFILES files"
	else
		files=("${GOSRC_FILES[@]}") name="mr run wc, Go source as ${#GOSRC_FILES[@]} files"
	fi
	add_row "$name" gosrc "bin/mr run --out OUT bin/apps/wc.so GOSRC"
	R_BYTES[ROW]=$GOSRC_BYTES
	rm -rf "$WORK/out" && mkdir -p "$WORK/out"
	if measure /dev/null bin/mr run --out "$WORK/out" bin/apps/wc.so "${files[@]}"; then
		mr_summary
		sorted_outputs "$WORK/out" >"$WORK/gosrc-$variant"
		if [[ $variant == packed ]]; then
			GOSRC_OK=1 GOSRC_ROW=$ROW R_CHECK[ROW]=reference
		else
			check_same "$WORK/gosrc-$variant" "$WORK/gosrc-packed" "$GOSRC_OK"
		fi
	fi
	rm -rf "$WORK/out"
done
rm -f "$WORK"/gosrc-*

# --- results ---
# ratio: for word count, MB/s as a fraction of the ceiling's; for sort,
# wall time as a multiple of GNU sort's.
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1e6 }'; }
R_MBS=() R_RATIO=() R_RATIO_KIND=() R_INTER_FRAC=()
for i in "${!R_NAME[@]}"; do
	R_MBS[i]=""
	if [[ -n ${R_WALL[i]} && ${R_CHECK[i]} != FAILED* ]]; then
		R_MBS[i]=$(mbs "${R_BYTES[i]}" "${R_WALL[i]}")
	fi
	R_RATIO[i]="" R_RATIO_KIND[i]="" R_INTER_FRAC[i]=""
	if [[ -n ${R_MBS[i]} ]]; then
		if [[ ${R_KIND[i]} == text && -n ${R_MBS[CEIL_ROW]} ]]; then
			R_RATIO[i]=$(awk -v a="${R_WALL[CEIL_ROW]}" -v b="${R_WALL[i]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
			R_RATIO_KIND[i]="of ceiling MB/s"
		elif [[ ${R_KIND[i]} == gosrc && -n $GOSRC_ROW && -n ${R_MBS[GOSRC_ROW]} ]]; then
			R_RATIO[i]=$(awk -v a="${R_WALL[i]}" -v b="${R_WALL[GOSRC_ROW]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
			R_RATIO_KIND[i]="x $NFILES-file time"
		elif [[ ${R_KIND[i]} == records && -n ${R_MBS[GNU_ROW]} ]]; then
			R_RATIO[i]=$(awk -v a="${R_WALL[i]}" -v b="${R_WALL[GNU_ROW]}" 'BEGIN { if (b > 0) printf "%.2f", a / b }')
			R_RATIO_KIND[i]="x GNU sort time"
		fi
	fi
	if [[ -n ${R_INTER[i]} ]]; then
		R_INTER_FRAC[i]=$(awk -v z="${R_INTER[i]}" -v b="${R_BYTES[i]}" 'BEGIN { if (b > 0) printf "%.3f", z * 1048576 / b }')
	fi
done

LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
CPU=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') || CPU=unknown
GOV=$(go version | sed 's/^go version //')
MEM=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
KERNEL=$(uname -r)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT+dirty"
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
STAMP=$(date -u +%Y%m%d-%H%M%S)
RESULTS=$ROOT/bench/results
mkdir -p "$RESULTS"
BASE=$RESULTS/bench-$LABEL-$STAMP

{
	echo "# gomr benchmark, SIZE=$LABEL"
	echo
	echo "$NOW, commit $COMMIT; $NPROC CPUs ($CPU), $MEM, $GOV, Linux $KERNEL."
	echo
	echo "Inputs: text, $NFILES files of $TEXT_PER_FILE bytes (\`mr gen --files $NFILES\`, $TEXT_BYTES bytes);"
	echo "records, $NFILES files of $REC_PER_FILE bytes (\`mr gen --kind records\`, $REC_BYTES bytes)."
	echo "Inputs are in the page cache (read once before timing); each command ran once."
	echo "Load average before the runs: $LOADAVG; after: $LOADAVG_AFTER (the benchmark itself accounts for up to"
	echo "about $NPROC; more means other work on the machine skewed the times)."
	echo "MB/s is input bytes / wall seconds / 10^6. Word-count ratios are MB/s as a fraction of"
	echo "the ceiling's (1.00 = as fast); sort ratios are wall time as a multiple of GNU sort's;"
	echo "Go-source ratios are wall time as a multiple of the same bytes' in $NFILES files."
	echo "Peak RSS is the largest single process: from \`mr run\`'s summary when it prints one (mr),"
	echo "otherwise GNU time's maximum RSS over the process tree (time)."
	echo
	echo "| name | wall s | MB/s | ratio | peak RSS MiB | intermediate MiB (of input) | check |"
	echo "|---|---:|---:|---|---:|---:|---|"
	for i in "${!R_NAME[@]}"; do
		ratio=n/a rss=n/a inter=n/a
		[[ -n ${R_RATIO[i]} ]] && ratio="${R_RATIO[i]} ${R_RATIO_KIND[i]}"
		[[ -n ${R_RSS[i]} ]] && rss="${R_RSS[i]} (${R_RSS_SRC[i]})"
		[[ -n ${R_INTER[i]} ]] && inter="${R_INTER[i]} ($(awk -v f="${R_INTER_FRAC[i]}" 'BEGIN { printf "%.1f%%", f * 100 }'))"
		echo "| ${R_NAME[i]} | ${R_WALL[i]:-n/a} | ${R_MBS[i]:-n/a} | $ratio | $rss | $inter | ${R_CHECK[i]} |"
	done
	echo
	echo "Commands (TEXT and RECORDS are the input files, OUT a scratch directory):"
	echo
	for i in "${!R_NAME[@]}"; do
		note=""
		[[ -n ${R_NOTE[i]} ]] && note="; ${R_NOTE[i]}"
		[[ -n ${R_MRSS[i]} ]] && note="$note; peak RSS master ${R_MRSS[i]} MiB, largest worker ${R_WRSS[i]} MiB"
		echo "- ${R_NAME[i]}: \`${R_CMD[i]}\`$note"
	done
} >"$BASE.md"

# JSON, by hand: every value is a number, null, or a string escaped here.
jstr() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "${s//$'\t'/ }"
}
jnum() { if [[ -n $1 ]]; then printf '%s' "$1"; else printf null; fi; }
{
	echo "{"
	echo "  \"size\": $(jstr "$LABEL"), \"size_bytes\": $SIZE_BYTES,"
	echo "  \"text_bytes\": $TEXT_BYTES, \"records_bytes\": $REC_BYTES, \"files\": $NFILES,"
	echo "  \"date\": $(jstr "$NOW"), \"commit\": $(jstr "$COMMIT"),"
	echo "  \"machine\": {\"nproc\": $NPROC, \"cpu\": $(jstr "$CPU"), \"memory\": $(jstr "$MEM"), \"go\": $(jstr "$GOV"), \"kernel\": $(jstr "$KERNEL")},"
	echo "  \"load_average_before\": $(jstr "$LOADAVG"), \"load_average_after\": $(jstr "$LOADAVG_AFTER"),"
	echo "  \"page_cache\": true, \"runs_per_command\": 1, \"mb\": 1000000,"
	echo "  \"rows\": ["
	for i in "${!R_NAME[@]}"; do
		sep=,
		((i == ${#R_NAME[@]} - 1)) && sep=
		echo "    {\"name\": $(jstr "${R_NAME[i]}"), \"command\": $(jstr "${R_CMD[i]}"), \"input\": $(jstr "${R_KIND[i]}"), \"input_bytes\": ${R_BYTES[i]},"
		echo "     \"wall_s\": $(jnum "${R_WALL[i]}"), \"mb_s\": $(jnum "${R_MBS[i]}"), \"ratio\": $(jnum "${R_RATIO[i]}"), \"ratio_kind\": $(jstr "${R_RATIO_KIND[i]}"),"
		echo "     \"peak_rss_mib\": $(jnum "${R_RSS[i]}"), \"rss_source\": $(jstr "${R_RSS_SRC[i]}"), \"master_rss_mib\": $(jnum "${R_MRSS[i]}"), \"worker_rss_mib\": $(jnum "${R_WRSS[i]}"),"
		echo "     \"intermediate_mib\": $(jnum "${R_INTER[i]}"), \"intermediate_fraction\": $(jnum "${R_INTER_FRAC[i]}"), \"check\": $(jstr "${R_CHECK[i]}"), \"note\": $(jstr "${R_NOTE[i]}")}$sep"
	done
	echo "  ]"
	echo "}"
} >"$BASE.json"
cp "$BASE.md" "$RESULTS/latest.md"

echo
cat "$BASE.md"
echo
echo "bench: wrote ${BASE#"$ROOT"/}.md, .json and bench/results/latest.md"
if ((FAILED)); then
	log "some rows FAILED or MISMATCHED; see the table"
	exit 1
fi
