#!/usr/bin/env bash
# End-to-end test of columnar output (and, where noted, input), read back
# by an independent reader: DuckDB, from npm's @duckdb/node-api, installed
# once into $CACHE. Every result is compared with `mr seq`'s text output.
# Each check prints PASS or FAIL; the script exits non-zero if any failed.
# Without npm, or when the package cannot be installed, it prints one SKIP
# line saying why and checks only what needs no DuckDB.
#
# Usage: scripts/test-columnar.sh
# Environment: T (seconds any process may run, default 120), KEEP=1 keeps
# the work directory, CACHE (default ~/.cache/gomr-duckdb).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MR=$ROOT/bin/mr
APPS=$ROOT/bin/apps
INPUTS=("$ROOT"/testdata/text-*.txt)
T=${T:-120}
CACHE=${CACHE:-$HOME/.cache/gomr-duckdb}

for f in "$MR" "$APPS/wc.so"; do
	[[ -f $f ]] || { echo "test-columnar: $f is missing; run 'make build apps' first" >&2; exit 1; }
done

WORK=$(mktemp -d /tmp/test-columnar.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[[ -n ${KEEP:-} ]] && echo "test-columnar: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# duckdb_setup: install @duckdb/node-api into $CACHE once; false, with the
# reason in SKIP, when it cannot be had.
SKIP=
duckdb_setup() {
	command -v node >/dev/null && command -v npm >/dev/null || { SKIP="node and npm are not installed (apt-get install nodejs npm)"; return 1; }
	if [[ ! -d $CACHE/node_modules/@duckdb/node-api ]]; then
		mkdir -p "$CACHE" || { SKIP="cannot make $CACHE"; return 1; }
		if ! (cd "$CACHE" && timeout 300 npm install --no-audit --no-fund --silent @duckdb/node-api >npm.log 2>&1); then
			SKIP="npm could not install @duckdb/node-api: $(tail -1 "$CACHE/npm.log")"
			return 1
		fi
	fi
	cat >"$CACHE/query.mjs" <<'EOF'
// node query.mjs SQL: run SQL in an in-memory DuckDB and print its rows,
// tab-separated.
import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const r = await c.runAndReadAll(process.argv[2]);
for (const row of r.getRows()) console.log(row.map(String).join('\t'));
EOF
}

# duck SQL: DuckDB's answer to SQL, on stdout.
duck() { (cd "$CACHE" && timeout -k 2 60 node query.mjs "$1"); }

# reference: sorted `mr seq` text output of wc into $WORK/ref.
reference() {
	mkdir -p "$WORK/seq" &&
		timeout -k 2 "$T" "$MR" seq --out "$WORK/seq" "$APPS/wc.so" "${INPUTS[@]}" 2>"$WORK/seq.log" &&
		sort "$WORK/seq/mr-out-0" >"$WORK/ref"
}

# same_as_ref NAME DIR: DuckDB's rows of DIR/*.parquet, as "key value"
# lines, sorted, equal the reference.
same_as_ref() {
	duck "SELECT key || ' ' || value FROM read_parquet('$2/*.parquet')" 2>"$WORK/duck.err" | sort >"$WORK/$1.got" ||
		{ fail "$1" "DuckDB could not read the output: $(tail -1 "$WORK/duck.err")"; return 1; }
	cmp -s "$WORK/$1.got" "$WORK/ref" || { fail "$1" "DuckDB's rows differ from mr seq ($(diff "$WORK/$1.got" "$WORK/ref" | head -3 | tr '\n' ' '))"; return 1; }
}

# wc as Parquet through mr run: DuckDB reads every row, in key order in each
# file, with a 64-bit integer value column, and the issue's query works.
check_run_parquet() {
	local out=$WORK/run
	timeout -k 2 "$T" "$MR" run --workers 2 --nreduce 4 --output-format parquet --out "$out" "$APPS/wc.so" "${INPUTS[@]}" 2>"$WORK/run.log" ||
		{ fail run/parquet "mr run exited $?: $(tail -1 "$WORK/run.log")"; return; }
	[[ $(ls "$out"/mr-out-*.parquet | wc -l) == 4 ]] || { fail run/parquet "want mr-out-0.parquet to mr-out-3.parquet: $(ls "$out")"; return; }
	[[ -f $out/_SUCCESS ]] || { fail run/parquet "no _SUCCESS"; return; }
	[[ -n $SKIP ]] && { pass "run/parquet (files only; DuckDB skipped)"; return; }
	same_as_ref run/parquet "$out" || return
	local f bad
	for f in "$out"/mr-out-*.parquet; do
		# lag() over the scan, which keeps the file's order: a row whose
		# key is not above the one before it breaks key order.
		bad=$(duck "SELECT count(*) FROM (SELECT key, lag(key) OVER () AS prev FROM read_parquet('$f')) WHERE prev >= key")
		[[ $bad == 0 ]] || { fail run/parquet "$f: $bad rows out of key order"; return; }
	done
	local types top
	types=$(duck "SELECT DISTINCT typeof(value) FROM read_parquet('$out/*.parquet')")
	[[ $types == BIGINT ]] || { fail run/parquet "value column is $types, want BIGINT (apps/wc's ValueType is int64)"; return; }
	top=$(duck "SELECT key, value FROM '$out/*.parquet' ORDER BY value DESC LIMIT 1")
	[[ $top == "$(sort -k2,2nr "$WORK/ref" | head -1 | tr ' ' '\t')" ]] || { fail run/parquet "top word by DuckDB: $top; by mr seq: $(sort -k2,2nr "$WORK/ref" | head -1)"; return; }
	pass "run/parquet (top word: $top)"
}

# mr seq writes mr-out-0.parquet, the same rows.
check_seq_parquet() {
	local out=$WORK/seqpq
	timeout -k 2 "$T" "$MR" seq --output-format parquet --out "$out" "$APPS/wc.so" "${INPUTS[@]}" 2>"$WORK/seqpq.log" ||
		{ fail seq/parquet "mr seq exited $?: $(tail -1 "$WORK/seqpq.log")"; return; }
	[[ -f $out/mr-out-0.parquet ]] || { fail seq/parquet "no mr-out-0.parquet: $(ls "$out")"; return; }
	[[ -n $SKIP ]] && { pass "seq/parquet (file only)"; return; }
	same_as_ref seq/parquet "$out" && pass seq/parquet
}

# With --collect-output, reduce workers send Parquet files to the master,
# which commits them under their names as it does text.
check_collect_parquet() {
	local dir=$WORK/collect
	mkdir -p "$dir" && cd "$dir" || return
	timeout -k 2 "$T" "$MR" master --listen "unix:$dir/m.sock" --collect-output --output-format parquet --nreduce 3 --out out "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	local i
	for i in 1 2; do
		(cd / && timeout -k 2 "$T" "$MR" worker --master "unix:$dir/m.sock" --workdir "$dir/w$i" "$APPS/wc.so" 2>"$dir/w$i.log") &
		PIDS+=($!)
	done
	wait "$m" || { fail collect/parquet "master exited $?: $(tail -1 master.log)"; cd "$WORK"; return; }
	cd "$WORK" || return
	[[ $(ls "$dir"/out/mr-out-*.parquet 2>/dev/null | wc -l) == 3 ]] || { fail collect/parquet "want 3 Parquet outputs: $(ls "$dir/out")"; return; }
	[[ -n $SKIP ]] && { pass "collect/parquet (files only)"; return; }
	same_as_ref collect/parquet "$dir/out" && pass collect/parquet
}

# DuckDB writes the inputs' lines as a Parquet file with a text column and
# a number column; word count over it, reading only the text column, equals
# word count over the text.
check_duckdb_input() {
	[[ -n $SKIP ]] && return
	local pq=$WORK/duck.parquet out=$WORK/duckin files
	files=$(printf "'%s'," "${INPUTS[@]}")
	duck "COPY (SELECT 42 AS n, line FROM (SELECT unnest(string_split(rtrim(content, chr(10)), chr(10))) AS line FROM read_text([${files%,}]))) TO '$pq' (FORMAT parquet, ROW_GROUP_SIZE 5000)" >/dev/null 2>"$WORK/duck.err" ||
		{ fail duckdb-input "DuckDB could not write Parquet: $(tail -1 "$WORK/duck.err")"; return; }
	timeout -k 2 "$T" "$MR" run --workers 2 --split-size 64KiB --columns line --out "$out" "$APPS/wc.so" "$pq" 2>"$WORK/duckin.log" ||
		{ fail duckdb-input "mr run exited $?: $(tail -1 "$WORK/duckin.log")"; return; }
	local maps
	maps=$(jq '.phases[] | select(.kind == "map") | .tasks' "$out/mr-job.json")
	sort "$out"/mr-out-* >"$WORK/duckin.got"
	if ! cmp -s "$WORK/duckin.got" "$WORK/ref"; then
		fail duckdb-input "word count over DuckDB's Parquet differs from the text's ($(diff "$WORK/duckin.got" "$WORK/ref" | head -3 | tr '\n' ' '))"
	elif ((maps < 2)); then
		fail duckdb-input "one map task for a file of many row groups and --split-size 64KiB"
	else
		pass "duckdb-input ($maps map tasks, cut at row groups)"
	fi
}

# apps/colsum reads typed record batches through MapBatch: its sums per key
# over a Parquet file DuckDB wrote equal DuckDB's own GROUP BY, and an
# unread third column changes nothing.
check_colsum() {
	[[ -n $SKIP || ! -f $APPS/colsum.so ]] && return
	local pq=$WORK/sales.parquet out=$WORK/colsum
	duck "COPY (SELECT 'shop' || (i % 37) AS shop, i * 7 % 1000 - 200 AS amount, repeat('x', 50) AS note FROM range(200000) t(i)) TO '$pq' (FORMAT parquet, ROW_GROUP_SIZE 20000)" >/dev/null 2>"$WORK/duck.err" ||
		{ fail colsum "DuckDB could not write Parquet: $(tail -1 "$WORK/duck.err")"; return; }
	timeout -k 2 "$T" "$MR" run --workers 2 --split-size 256KiB --columns shop,amount --param key=shop --param value=amount \
		--output-format parquet --out "$out" "$APPS/colsum.so" "$pq" 2>"$WORK/colsum.log" ||
		{ fail colsum "mr run exited $?: $(tail -1 "$WORK/colsum.log")"; return; }
	duck "SELECT shop || ' ' || sum(amount) FROM '$pq' GROUP BY shop" | sort >"$WORK/colsum.want"
	duck "SELECT key || ' ' || value FROM '$out/*.parquet'" | sort >"$WORK/colsum.got"
	if [[ ! -s $WORK/colsum.want ]] || ! cmp -s "$WORK/colsum.got" "$WORK/colsum.want"; then
		fail colsum "sums differ from DuckDB's ($(diff "$WORK/colsum.got" "$WORK/colsum.want" | head -3 | tr '\n' ' '))"
	else
		pass "colsum ($(wc -l <"$WORK/colsum.got") keys, through MapBatch)"
	fi
}

# A bad --output-format is one line and exit 2.
check_bad_format() {
	local err rc
	err=$("$MR" run --output-format csv "$APPS/wc.so" "${INPUTS[0]}" 2>&1)
	rc=$?
	if [[ $rc != 2 || $(wc -l <<<"$err") != 1 || $err != *"text, parquet, arrow"* ]]; then
		fail bad-format "exit $rc: $err"
	else
		pass bad-format
	fi
}

duckdb_setup || echo "test-columnar: SKIP duckdb ($SKIP)"
if reference; then
	check_run_parquet
	check_seq_parquet
	check_collect_parquet
	check_duckdb_input
	check_colsum
else
	fail reference "mr seq failed: $(tail -1 "$WORK/seq.log")"
fi
check_bad_format
echo "test-columnar: $passed passed, $failed failed"
((failed == 0))
