#!/usr/bin/env bash
# Jobs that read their inputs from and write their outputs to a real
# S3-compatible store: versitygw serving a local directory, built once
# from the Go module proxy into ~/.cache/gomr-versitygw. Each scenario
# prints PASS or FAIL; the script exits non-zero if any failed. Every
# process runs under `timeout`; every wait polls a condition with a
# deadline. When versitygw cannot be built it prints "test-s3: SKIP (why)"
# and exits 0.
#
# Objects are put in place through the server's directory (a bucket is a
# subdirectory, a key a path below it), which the server then serves;
# outputs go through the S3 protocol, and are checked both through the
# directory and by reading them back with mr.
#
# Scenarios:
#   wc         word count from s3://BUCKET/in to s3://BUCKET/OUT, with mr
#              run and with mr master and two workers given --s3-endpoint
#              (no endpoint in their environment), and mr seq from and to
#              the store; each compared byte for byte with mr seq over the
#              local copies, and the output prefix must hold exactly
#              mr-out-0..R-1, mr-job.json and _SUCCESS; mr status reads
#              the summary from the store; with --ship-inputs and
#              --collect-output, workers without credentials take part
#   globs      prefixes and globs: key order, "directories" matched by a
#              glob, s3://B/in not taking s3://B/in2/, scratch (.mr-*/)
#              and directory-marker keys left out, Parquet input
#   killed     a worker SIGKILLed mid-reduce: output equals mr seq, and no
#              partial, duplicate or temporary object is left, nor any
#              unfinished multipart upload
#   errors     a missing bucket, bad credentials, an empty prefix, a bad
#              --out bucket: one line naming the URL and the store's error
#              code, exit 1, no stack trace
#   outage     the store goes away for two seconds mid-job and comes back:
#              requests are retried and the job's output is still exact
#   resume     the master SIGKILLed mid-reduce and started again: it
#              resumes from its journal in the state directory, keeps the
#              committed outputs, and the result is exact
#
# Usage: scripts/test-s3.sh [SCENARIO...]   (default: all)
# Environment: T (seconds any one process may run, default 120), KEEP=1.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=test-s3
source "$ROOT/scripts/lib/s3.sh"
MR=$ROOT/bin/mr
APPS=$ROOT/bin/apps
T=${T:-120}
INPUTS=("$ROOT"/testdata/text-*.txt)

ALL=(wc globs killed errors outage resume)
want=("$@")
((${#want[@]})) || want=("${ALL[@]}")
for s in "${want[@]}"; do
	[[ " ${ALL[*]} " == *" $s "* ]] || { echo "$NAME: no scenario $s; have: ${ALL[*]}" >&2; exit 2; }
done
for f in "$MR" "$APPS/wc.so" "$APPS/slow.so"; do
	[[ -f $f ]] || { echo "$NAME: $f is missing; run 'make build apps' first" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "$NAME: needs jq (apt-get install jq)" >&2; exit 1; }
vgw_build || { echo "$NAME: SKIP ($VGW_WHY)"; exit 0; }

WORK=$(mktemp -d /tmp/test-s3.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	vgw_stop
	wait 2>/dev/null
	[[ -n ${KEEP:-} ]] && echo "$NAME: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

DATA=$WORK/store # the server's directory
B=gomr           # the bucket
PORT=$(free_port)
ENDPOINT=http://127.0.0.1:$PORT
mkdir -p "$DATA/$B/in" "$WORK/local"
for f in "${INPUTS[@]}"; do cp "$f" "$DATA/$B/in/" && cp "$f" "$WORK/local/"; done
vgw_start "$DATA" "127.0.0.1:$PORT" || exit 1
s3_env "$ENDPOINT"
export XDG_CACHE_HOME=$WORK/cache # where masters keep the state of s3:// jobs

# until_ok SECONDS CMD...: poll CMD every 50 ms until it succeeds.
until_ok() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

# reference NAME APP INPUTS...: sorted mr seq output of local INPUTS into
# $WORK/ref-NAME.
reference() {
	local name=$1 app=$2
	shift 2
	mkdir -p "$WORK/seq-$name"
	timeout -k 2 "$T" "$MR" seq --out "$WORK/seq-$name" "$APPS/$app.so" "$@" >/dev/null 2>&1 || return 1
	LC_ALL=C sort "$WORK/seq-$name/mr-out-0" >"$WORK/ref-$name"
}

# exactly NAME PREFIX R: the store's PREFIX/ holds mr-out-0..R-1,
# mr-job.json and _SUCCESS and nothing else (nothing below it either), no
# multipart upload is unfinished there, and sorted mr-out-* equal
# $WORK/ref-NAME-ish REF (the third argument's reference).
exactly() {
	local name=$1 prefix=$2 r=$3 ref=$4 i want got
	want=$( (for ((i = 0; i < r; i++)); do echo "mr-out-$i"; done; echo mr-job.json; echo _SUCCESS) | LC_ALL=C sort)
	got=$(cd "$DATA/$B/$prefix" 2>/dev/null && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort)
	[[ $got == "$want" ]] || { fail "$name" "s3://$B/$prefix holds: $(echo $got)"; return 1; }
	local uploads
	# versitygw keeps an unfinished upload in a directory named by a hash
	# of its key; no job may leave one behind in the bucket.
	uploads=$(find "$DATA/$B/.sgwtmp/multipart" -mindepth 1 -maxdepth 1 2>/dev/null | head -3)
	[[ -z $uploads ]] || { fail "$name" "unfinished multipart uploads left: $uploads"; return 1; }
	local sorted=$WORK/${name//\//-}.sorted
	LC_ALL=C sort "$DATA/$B/$prefix"/mr-out-* >"$sorted"
	cmp -s "$sorted" "$ref" ||
		{ fail "$name" "output differs from mr seq ($(diff "$sorted" "$ref" | head -3 | tr '\n' ' '))"; return 1; }
	[[ $(jq -r .state "$DATA/$B/$prefix/mr-job.json") == succeeded ]] || { fail "$name" "mr-job.json does not say succeeded"; return 1; }
}

# cluster DIR APP WORKERS MASTER-ARGS...: mr master and WORKERS workers
# in DIR, the workers given the endpoint by --s3-endpoint only; returns
# the master's status. The workers' PIDs are in WPIDS.
cluster() {
	local dir=$1 app=$2 n=$3
	shift 3
	mkdir -p "$dir" && cd "$dir" || exit 1
	timeout -k 2 "$T" "$MR" master --listen unix:m.sock "$@" 2>master.log &
	local m=$! i
	PIDS+=("$m")
	WPIDS=()
	for ((i = 1; i <= n; i++)); do
		AWS_ENDPOINT_URL_S3= timeout -k 2 "$T" "$MR" worker -v --master unix:m.sock --connect-timeout 5s \
			--s3-endpoint "$ENDPOINT" "$APPS/$app.so" 2>"worker-$i.log" &
		WPIDS+=($!)
		PIDS+=($!)
	done
	wait "$m"
	local rc=$?
	wait "${WPIDS[@]}" 2>/dev/null
	return $rc
}

scenario_wc() {
	reference wc wc "$WORK"/local/text-*.txt || { fail wc "mr seq failed"; return; }
	cd "$WORK" || exit 1
	timeout -k 2 "$T" "$MR" run --workers 2 --nreduce 3 --split-size 64KiB --out "s3://$B/out-run" "$APPS/wc.so" "s3://$B/in" 2>run.log ||
		{ fail wc/run "mr run exited $?: $(tail -1 run.log)"; return; }
	exactly wc/run out-run 3 "$WORK/ref-wc" && pass wc/run
	timeout -k 2 30 "$MR" status "s3://$B/out-run" >status.txt 2>&1 && grep -q "^job succeeded" status.txt &&
		pass wc/status || fail wc/status "mr status s3://$B/out-run: $(head -2 status.txt)"
	cluster "$WORK/wc-cluster" wc 2 --nreduce 4 --out "s3://$B/out-cluster/" "s3://$B/in/" ||
		{ fail wc/cluster "master exited $?: $(tail -1 master.log)"; return; }
	exactly wc/cluster out-cluster 4 "$WORK/ref-wc" && pass wc/cluster
	# mr seq from and to the store gives the very file mr seq writes locally.
	timeout -k 2 "$T" "$MR" seq --out "s3://$B/out-seq" "$APPS/wc.so" "s3://$B/in" 2>seq.log ||
		{ fail wc/seq "mr seq exited $?: $(tail -1 seq.log)"; return; }
	cmp -s "$DATA/$B/out-seq/mr-out-0" "$WORK/seq-wc/mr-out-0" && pass wc/seq ||
		fail wc/seq "s3://$B/out-seq/mr-out-0 differs from mr seq's local output"
	# With --ship-inputs and --collect-output the master reads the store
	# and writes a local --out: workers need no access to the store.
	mkdir -p "$WORK/wc-ship" && cd "$WORK/wc-ship" || exit 1
	timeout -k 2 "$T" "$MR" master --listen unix:m.sock --nreduce 2 --ship-inputs --collect-output --out out "s3://$B/in" 2>master.log &
	local m=$! w=() i
	PIDS+=("$m")
	for i in 1 2; do
		env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_ENDPOINT_URL_S3 \
			timeout -k 2 "$T" "$MR" worker --master unix:m.sock "$APPS/wc.so" 2>"worker-$i.log" &
		w+=($!)
		PIDS+=($!)
	done
	if ! wait "$m"; then
		fail wc/ship "master exited $?: $(tail -1 master.log)"
	elif ! LC_ALL=C sort out/mr-out-* | cmp -s - "$WORK/ref-wc"; then
		fail wc/ship "output differs from mr seq"
	else
		pass wc/ship
	fi
	wait "${w[@]}" 2>/dev/null
	cd "$WORK" || exit 1
	# A second job on the same prefix replaces the first one's output.
	timeout -k 2 "$T" "$MR" run --workers 2 --nreduce 2 --out "s3://$B/out-run" "$APPS/wc.so" "s3://$B/in" 2>run2.log ||
		{ fail wc/rerun "mr run exited $?: $(tail -1 run2.log)"; return; }
	exactly wc/rerun out-run 2 "$WORK/ref-wc" && pass wc/rerun
}

# The job summary lists the inputs it was given, in order.
inputs_of() { jq -r '.job.inputs[].path' "$1"; }

scenario_globs() {
	local d=$DATA/$B
	mkdir -p "$d/logs/2026/01" "$d/logs/2026/02" "$d/logs/.mr-0000/" "$d/in2" "$d/logs/b"
	cp "${INPUTS[0]}" "$d/logs/2026/02/z.txt"
	cp "${INPUTS[1]}" "$d/logs/2026/01/y.txt"
	cp "${INPUTS[2]}" "$d/logs/2026/01/x.log"
	cp "${INPUTS[3]}" "$d/logs/a.txt"
	cp "${INPUTS[4]}" "$d/logs/b/c.txt"
	cp "${INPUTS[5]}" "$d/logs/.mr-0000/scratch.txt" # a job's scratch: never input
	cp "${INPUTS[6]}" "$d/in2/other.txt"               # shares the prefix "in"
	cd "$WORK" && mkdir -p globs && cd globs || exit 1
	local cases=(
		"s3://$B/logs|s3://$B/logs/2026/01/x.log s3://$B/logs/2026/01/y.txt s3://$B/logs/2026/02/z.txt s3://$B/logs/a.txt s3://$B/logs/b/c.txt"
		"s3://$B/logs/*.txt|s3://$B/logs/a.txt"
		"s3://$B/logs/*/*.txt|s3://$B/logs/b/c.txt"
		"s3://$B/logs/2026/*|s3://$B/logs/2026/01/x.log s3://$B/logs/2026/01/y.txt s3://$B/logs/2026/02/z.txt"
		"s3://$B/logs/2026/0[2]/*.txt s3://$B/logs/a.txt|s3://$B/logs/2026/02/z.txt s3://$B/logs/a.txt"
		"s3://$B/in|$(for f in "${INPUTS[@]}"; do echo -n "s3://$B/in/$(basename "$f") "; done)"
	)
	local c args want got i=0 ok=1
	for c in "${cases[@]}"; do
		i=$((i + 1))
		read -ra args <<<"${c%%|*}"
		want=$(echo ${c#*|})
		rm -rf "$d/globs-$i"
		timeout -k 2 "$T" "$MR" run --workers 1 --nreduce 1 --out "s3://$B/globs-$i" "$APPS/wc.so" "${args[@]}" 2>run-$i.log ||
			{ fail globs "${args[*]}: mr run exited $?: $(tail -1 run-$i.log)"; ok=0; continue; }
		got=$(echo $(inputs_of "$d/globs-$i/mr-job.json"))
		[[ $got == "$want" ]] || { fail globs "${args[*]} gave inputs $got; want $want"; ok=0; continue; }
		# The output is mr seq's over the same objects.
		mkdir -p "seq-$i"
		timeout -k 2 "$T" "$MR" seq --out "seq-$i" "$APPS/wc.so" "${args[@]}" 2>/dev/null &&
			cmp -s "seq-$i/mr-out-0" "$d/globs-$i/mr-out-0" || { fail globs "${args[*]}: output differs from mr seq's"; ok=0; }
	done
	# Parquet from the store: cut at row groups, read by ranged GETs.
	timeout -k 2 "$T" "$MR" gen --format parquet --size 12000000 --files 2 --out "$d/pq" 2>/dev/null &&
		timeout -k 2 "$T" "$MR" gen --size 12000000 --files 2 --out "$WORK/pq-text" 2>/dev/null ||
		{ fail globs "mr gen failed"; return; }
	reference pq wc "$WORK"/pq-text/* || { fail globs "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" run --workers 2 --nreduce 2 --split-size 1MiB --out "s3://$B/globs-pq" "$APPS/wc.so" "s3://$B/pq" 2>run-pq.log ||
		{ fail globs "Parquet: mr run exited $?: $(tail -1 run-pq.log)"; return; }
	local maps
	maps=$(jq '[.tasks.tasks[] | select(.kind == "map")] | length' "$d/globs-pq/mr-job.json")
	((maps > 2)) || { fail globs/parquet "Parquet input made $maps map tasks; want it cut at row groups"; ok=0; }
	exactly globs/parquet globs-pq 2 "$WORK/ref-pq" || ok=0
	((ok)) && pass globs
}

# Reduces sleep per key, long enough to kill a worker while it runs one.
scenario_killed() {
	reference slow slow "$WORK"/local/text-*.txt || { fail killed "mr seq failed"; return; }
	mkdir -p "$WORK/killed" && cd "$WORK/killed" || exit 1
	timeout -k 2 "$T" "$MR" master --listen unix:m.sock --nreduce 4 --task-timeout 1s \
		--param reducesleep=200us --out "s3://$B/out-killed" "s3://$B/in" 2>master.log &
	local m=$!
	PIDS+=("$m")
	local w=() i
	for i in 1 2 3; do
		timeout -k 2 "$T" "$MR" worker -v --master unix:m.sock --connect-timeout 5s "$APPS/slow.so" 2>"worker-$i.log" &
		w+=($!)
		PIDS+=($!)
	done
	if ! until_ok 60 grep -q "reduce task .* start" worker-1.log; then
		fail killed "worker 1 never started a reduce task: $(tail -1 master.log)"
		return
	fi
	disown "${w[0]}" # no "Killed" notice from this shell
	pkill -9 -P "${w[0]}" # the worker, not just its timeout
	wait "$m" || { fail killed "master exited $?: $(tail -1 master.log)"; return; }
	wait "${w[@]:1}" 2>/dev/null
	grep -q "lost" master.log || { fail killed "the master never noticed the lost reduce"; return; }
	exactly killed out-killed 4 "$WORK/ref-slow" && pass killed
}

# expect_error NAME WANT... -- CMD...: CMD must exit 1 within 60 s,
# printing exactly one line on stderr that holds every WANT, and no stack
# trace.
expect_error() {
	local name=$1 wants=()
	shift
	while [[ $1 != -- ]]; do wants+=("$1"); shift; done
	shift
	timeout -k 2 60 "$@" >out.txt 2>err.txt
	local rc=$? w
	if [[ $rc != 1 ]]; then
		fail "$name" "exited $rc, want 1: $(head -2 err.txt)"
		return
	elif [[ $(wc -l <err.txt) != 1 ]]; then
		fail "$name" "printed $(wc -l <err.txt) lines: $(head -3 err.txt)"
		return
	fi
	for w in "${wants[@]}"; do
		grep -qF -- "$w" err.txt || { fail "$name" "stderr lacks '$w': $(cat err.txt)"; return; }
	done
	pass "$name ($(cat err.txt))"
}

scenario_errors() {
	mkdir -p "$WORK/errors" && cd "$WORK/errors" || exit 1
	mkdir -p "$DATA/$B/empty-dir"
	expect_error errors/no-bucket "s3://nobucket/x" NoSuchBucket -- "$MR" master --listen unix:m.sock s3://nobucket/x
	expect_error errors/empty-prefix "s3://$B/nothing/here" NoSuchKey -- "$MR" master --listen unix:m.sock "s3://$B/nothing/here"
	expect_error errors/empty-glob "s3://$B/in/*.csv" NoSuchKey -- "$MR" run "$APPS/wc.so" "s3://$B/in/*.csv"
	expect_error errors/bad-secret "s3://$B/in" SignatureDoesNotMatch -- \
		env AWS_SECRET_ACCESS_KEY=wrong "$MR" master --listen unix:m.sock "s3://$B/in"
	expect_error errors/bad-key "s3://$B/in" "$B" -- \
		env AWS_ACCESS_KEY_ID=AKIANOSUCHUSER "$MR" run "$APPS/wc.so" "s3://$B/in"
	expect_error errors/no-credentials "s3://$B/in" AccessDenied AWS_ACCESS_KEY_ID -- \
		env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY HOME="$WORK" "$MR" seq --out . "$APPS/wc.so" "s3://$B/in"
	expect_error errors/out-no-bucket "s3://nobucket/out" NoSuchBucket -- \
		"$MR" master --listen unix:m.sock --out s3://nobucket/out "${INPUTS[0]}"
	expect_error errors/seq-out-no-bucket "s3://nobucket/out" NoSuchBucket -- \
		"$MR" seq --out s3://nobucket/out "$APPS/wc.so" "${INPUTS[0]}"
	expect_error errors/bad-url "s3:///x" "BUCKET" -- "$MR" master --listen unix:m.sock s3:///x
	expect_error errors/collect-output "--collect-output" -- \
		"$MR" master --listen unix:m.sock --collect-output --out "s3://$B/x" "${INPUTS[0]}"
}

# The store is killed while map tasks run, and started again two seconds
# later on the same port: requests meanwhile are refused, and retried.
scenario_outage() {
	reference slow slow "$WORK"/local/text-*.txt || { fail outage "mr seq failed"; return; }
	mkdir -p "$WORK/outage" && cd "$WORK/outage" || exit 1
	export XDG_CACHE_HOME=$WORK/outage/cache
	timeout -k 2 "$T" "$MR" run --workers 2 --nreduce 2 --split-size 32KiB --param sleep=300ms \
		--out "s3://$B/out-outage" "$APPS/slow.so" "s3://$B/in" 2>run.log &
	local r=$!
	PIDS+=("$r")
	# Once the first map task has committed, in the journal.
	until_ok 60 eval 'cat "$XDG_CACHE_HOME"/gomr/jobs/*/.mr-*/journal 2>/dev/null | grep -q "\"map\":"' ||
		{ fail outage "no map task committed: $(tail -1 run.log)"; return; }
	export XDG_CACHE_HOME=$WORK/cache
	kill -0 "$r" 2>/dev/null || { fail outage "the job ended before the store went away; make it slower"; return; }
	vgw_stop
	sleep 2
	vgw_start "$DATA" "127.0.0.1:$PORT" || { fail outage "versitygw did not start again"; return; }
	wait "$r" || { fail outage "mr run exited $?: $(tail -1 run.log)"; return; }
	exactly outage out-outage 2 "$WORK/ref-slow" && pass outage
}

# The master is SIGKILLed once some reduce output is committed, and started
# again with the same flags: it resumes, keeping what was committed.
scenario_resume() {
	reference slow slow "$WORK"/local/text-*.txt || { fail resume "mr seq failed"; return; }
	mkdir -p "$WORK/resume" && cd "$WORK/resume" || exit 1
	local flags=(--listen unix:m.sock --nreduce 4 --param reducesleep=300us --out "s3://$B/out-resume" "s3://$B/in")
	"$MR" master "${flags[@]}" 2>master-1.log &
	local m=$!
	PIDS+=("$m")
	local w=() i
	for i in 1 2; do
		timeout -k 2 "$T" "$MR" worker --master unix:m.sock --connect-timeout 30s "$APPS/slow.so" 2>"worker-$i.log" &
		w+=($!)
		PIDS+=($!)
	done
	until_ok 60 eval 'compgen -G "$DATA/$B/out-resume/mr-out-*" >/dev/null' ||
		{ fail resume "no reduce output was committed: $(tail -1 master-1.log)"; return; }
	kill -9 "$m"
	wait "$m" 2>/dev/null
	timeout -k 2 "$T" "$MR" master "${flags[@]}" 2>master-2.log ||
		{ fail resume "the restarted master exited $?: $(tail -1 master-2.log)"; return; }
	wait "${w[@]}" 2>/dev/null
	local resumed
	resumed=$(grep -o "resuming.*" master-2.log)
	[[ $resumed =~ ([0-9]+)\ of\ [0-9]+\ reduce ]] && ((BASH_REMATCH[1] > 0)) ||
		{ fail resume "the restarted master did not resume with committed reduces: $(head -1 master-2.log)"; return; }
	exactly resume out-resume 4 "$WORK/ref-slow" && pass "resume ($resumed)"
}

start=$SECONDS
for s in "${want[@]}"; do
	"scenario_$s"
	cd "$WORK" || exit 1
done
echo "$NAME: $passed passed, $failed failed in $((SECONDS - start)) s"
((failed == 0))
