#!/usr/bin/env bash
# End-to-end test of the status page: a real `mr run` job, slowed by
# testdata/apps/slow, serves its page with --http; the test reads /api/job with curl
# and loads the page in headless Chromium, in the middle of the job and
# after it, and checks what the rendered DOM shows (the hooks are listed at
# the top of master/page/index.html). Screenshots go to bin/test-status/.
# Each check prints PASS or FAIL; the script exits non-zero if any failed.
# Every process runs under `timeout`, and every wait is a bounded poll.
#
# Needs bin/mr and bin/apps/slow.so (make build apps), curl and jq. Without
# chromium the browser checks are skipped, with one line saying so, and the
# rest still run.
#
# Usage: scripts/test-status.sh
# Environment: T (seconds any process may run, default 120), KEEP=1 keeps
# the work directory, CHROMIUM (the browser; "" to skip it), SLEEP and
# SPLIT (the job's per-Map sleep and split size).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MR=${MR:-$ROOT/bin/mr}
APPS=${APPS:-$ROOT/bin/apps}
INPUTS=("$ROOT"/testdata/text-*.txt)
SHOTS=$ROOT/bin/test-status
T=${T:-120}
# About 60 map tasks of 500 ms each on 2 workers: a job of about 20 s,
# long enough to catch it in the middle of its map phase even when
# Chromium takes seconds to start on a busy machine.
SLEEP=${SLEEP:-500ms}
SPLIT=${SPLIT:-32KiB}
BUDGET=1500 # ms of virtual time the page gets to fetch and draw; it fetches at once

for f in "$MR" "$APPS/slow.so"; do
	[[ -f $f ]] || { echo "test-status: $f is missing; run 'make build apps' first" >&2; exit 1; }
done
for c in curl jq; do
	command -v "$c" >/dev/null || { echo "test-status: needs $c (apt-get install $c)" >&2; exit 1; }
done
((${#INPUTS[@]} > 0)) || { echo "test-status: no testdata/text-*.txt inputs" >&2; exit 1; }
if [[ -z ${CHROMIUM+set} ]]; then
	CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
fi
[[ -n $CHROMIUM ]] || echo "test-status: SKIP browser (chromium not installed; apt-get install chromium)"
PROMTOOL=$(command -v promtool || true)
[[ -n $PROMTOOL ]] || echo "test-status: SKIP promtool (not installed; apt-get install prometheus)"

WORK=$(mktemp -d /tmp/test-status.XXXXXX)
JOB=$WORK/job # mr run runs here, with --out $JOB/out
URL=          # the status page, http://127.0.0.1:PORT/
RUN=          # the pid of the timeout around mr run, and of its process group
cleanup() {
	# timeout puts itself, mr run and the workers in one process group.
	[[ -n $RUN ]] && kill -KILL -- "-$RUN" 2>/dev/null
	[[ -n ${KEEP:-} ]] && echo "test-status: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# wait_for_log LOG PATTERN SECONDS: poll until LOG has a line matching PATTERN.
wait_for_log() {
	local deadline=$((SECONDS + $3))
	while ((SECONDS < deadline)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# api QUERY: GET api/job?QUERY into $WORK/job.json.
api() {
	curl -fsS --max-time 5 -o "$WORK/job.json" "${URL}api/job?$1" 2>"$WORK/curl.err"
}

# jget FILTER: jq -r FILTER of the last api answer.
jget() { jq -r "$1" "$WORK/job.json" 2>/dev/null; }

# poll_api QUERY CONDITION SECONDS: poll api QUERY until the jq CONDITION
# is true; fails when time runs out or mr run has exited.
poll_api() {
	local deadline=$((SECONDS + $3))
	while ((SECONDS < deadline)); do
		api "$1" && [[ $(jget "$2") == true ]] && return 0
		kill -0 "$RUN" 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# browser NAME: load the page once in headless Chromium: its rendered DOM
# into $WORK/NAME.html and a screenshot of the same moment into
# $SHOTS/NAME.png. The page's console messages are in $WORK/NAME.log.
browser() {
	timeout -k 2 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --enable-logging=stderr \
		--user-data-dir="$WORK/chromium-$1" --virtual-time-budget="$BUDGET" \
		--window-size=1280,1700 --screenshot="$SHOTS/$1.png" --dump-dom "$URL" >"$WORK/$1.html" 2>"$WORK/$1.log" &&
		grep -q 'data-loaded="1"' "$WORK/$1.html"
}

# page_fail CHECK WHY: fail CHECK, with the page's last console error.
page_fail() {
	local console
	console=$(grep -i "console\|uncaught" "$WORK/$2.log" 2>/dev/null | tail -1)
	fail "$1" "$3${console:+ (console: $console)}"
}

# dom_text NAME ID: the text of the element with id ID in $WORK/NAME.html.
dom_text() { sed -n "s/.*id=\"$2\"[^>]*>\([^<]*\)<.*/\1/p" "$WORK/$1.html" | head -1; }

# dom_attr NAME MATCH ATTR: attribute ATTR of the first tag that contains
# MATCH (a fixed string such as data-phase="map").
dom_attr() {
	grep -o "<[^>]*$2[^>]*>" "$WORK/$1.html" | head -1 | sed -n "s/.*[[:space:]]$3=\"\([^\"]*\)\".*/\1/p"
}

# between01 V: 0 < V < 1.
between01() { [[ -n $1 ]] && awk -v v="$1" 'BEGIN { exit !(v > 0 && v < 1) }'; }

start_job() {
	mkdir -p "$JOB" "$SHOTS" && cd "$JOB" || exit 1
	timeout -k 2 "$T" "$MR" run --workers 2 --http 127.0.0.1:0 --http-grace 60s --nreduce 4 --split-size "$SPLIT" \
		--param sleep="$SLEEP" --out out "$APPS/slow.so" "${INPUTS[@]}" 2>run.log &
	RUN=$!
	if ! wait_for_log run.log "status page at http" 20; then
		fail start "no 'status page at' line from mr run in 20 s: $(tail -1 run.log)"
		return 1
	fi
	URL=$(sed -n 's/.*status page at \(https\{0,1\}:\/\/[^ ]*\).*/\1/p' run.log | head -1)
	[[ $URL == */ ]] || URL=$URL/
	pass "start ($URL)"
}

# Checks run at three points; add yours to these lists. Each is a function
# that calls pass or fail, and may use $URL, $JOB (mr run's directory; its
# --out is $JOB/out), api and jget, and browser, dom_text and dom_attr
# (when $CHROMIUM is set). The refusal of requests without the token on
# a non-loopback address is tested in master/http_test.go.
MID_CHECKS=(check_mid_page check_mid_status check_metrics)                # the map phase is partly done
DONE_CHECKS=(check_done_api check_done_page check_metrics check_summary) # the job is over; the page is still served (--http-grace)
AFTER_CHECKS=(check_output check_status_file)                           # mr run has exited after SIGTERM

check_mid_page() {
	[[ -n $CHROMIUM ]] || return 0
	browser mid-job || { page_fail mid-job/page mid-job "chromium did not render the page"; return; }
	local state phase v
	state=$(dom_text mid-job job-state)
	phase=$(dom_text mid-job job-phase)
	v=$(dom_attr mid-job "data-phase=\"$phase\"" value)
	if [[ $state != running ]]; then
		page_fail mid-job/page mid-job "#job-state is '$state', want running"
	elif [[ ! $phase =~ ^(sample|map|reduce)$ ]]; then
		page_fail mid-job/page mid-job "#job-phase is '$phase', want a running phase"
	elif ! between01 "$v"; then
		page_fail mid-job/page mid-job "the $phase phase's progress bar is at '$v', want between 0 and 1"
	else
		pass "mid-job/page ($phase at $v; bin/test-status/mid-job.png)"
	fi
}

# check_mid_status: mr status reads the running job from its master.
check_mid_status() {
	local out
	if ! out=$(timeout -k 2 20 "$MR" status "${URL#http://}" 2>&1); then
		fail mid/status "mr status exited non-zero: $out"
	elif ! grep -q "^job running, map phase" <<<"$out" || ! grep -q "^  map .*%" <<<"$out" || ! grep -q "map_input_records" <<<"$out"; then
		fail mid/status "mr status did not show a running map phase with its counters: $(head -3 <<<"$out" | tr '\n' '|')"
	else
		pass mid/status
	fi
}

# check_metrics: /metrics is valid Prometheus text, as promtool lints it,
# and carries the job's own families.
check_metrics() {
	local m=$WORK/metrics.txt out
	curl -fsS --max-time 5 -o "$m" "${URL}metrics" || { fail metrics "GET /metrics failed"; return; }
	for family in mr_tasks mr_attempts_total mr_workers mr_task_duration_seconds_bucket mr_map_input_bytes_total mr_shuffle_bytes_total mr_output_bytes_total; do
		grep -q "^$family[ {]" "$m" || { fail metrics "no $family in /metrics"; return; }
	done
	if [[ -n $PROMTOOL ]] && ! out=$("$PROMTOOL" check metrics <"$m" 2>&1); then
		fail metrics "promtool check metrics: $(head -3 <<<"$out" | tr '\n' ' ')"
		return
	fi
	pass "metrics (${PROMTOOL:+promtool clean, }$(grep -c '^mr_' "$m") mr_ samples)"
}

# check_summary: the finished job left mr-job.json, with every task and
# its attempts, and _SUCCESS, created after every mr-out-*.
check_summary() {
	local out=$JOB/out sum=$JOB/out/mr-job.json lines
	lines=$(awk 'END { print NR }' "${INPUTS[@]}")
	if [[ ! -f $sum ]]; then
		fail summary "no mr-job.json in --out"
	elif [[ $(jq -r .state "$sum") != succeeded || $(jq -r .counters.builtin.map_input_records "$sum") != "$lines" ]]; then
		fail summary "mr-job.json: state $(jq -r .state "$sum"), map_input_records $(jq -r .counters.builtin.map_input_records "$sum"); want succeeded and $lines"
	elif [[ $(jq '[.tasks.tasks[] | select(.state == "done" and (.history | length) >= 1)] | length' "$sum") != $(jq '[.phases[].tasks] | add' "$sum") ]]; then
		fail summary "mr-job.json does not list every task, done, with its attempts"
	elif [[ $(jq -r '.job.flags["split-size"]' "$sum") != "$SPLIT" || $(jq '.job.inputs | length' "$sum") != "${#INPUTS[@]}" ]]; then
		fail summary "mr-job.json: job flags or inputs wrong: $(jq -c .job.flags "$sum" | head -c 200)"
	elif [[ ! -f $out/_SUCCESS || -s $out/_SUCCESS ]]; then
		fail summary "no empty _SUCCESS in --out"
	elif [[ -n $(find "$out" -name 'mr-out-*' -newer "$out/_SUCCESS") || $out/mr-job.json -nt $out/_SUCCESS ]]; then
		fail summary "_SUCCESS is older than some output file: it must come last"
	else
		pass "summary (mr-job.json, _SUCCESS last)"
	fi
}

# check_status_file: after the job, mr status reads its --out.
check_status_file() {
	local out
	if ! out=$(timeout -k 2 20 "$MR" status "$JOB/out" 2>&1); then
		fail status/file "mr status OUT exited non-zero: $out"
	elif ! grep -q "^job succeeded" <<<"$out"; then
		fail status/file "mr status OUT: $(head -1 <<<"$out")"
	else
		pass status/file
	fi
}

check_done_api() {
	if [[ $(jget .state) != succeeded ]]; then
		fail done/api "state is $(jget .state), want succeeded: $(jget .failure)"
	elif [[ $(jget .phase) != done || -z $(jget '.ended // empty') ]]; then
		fail done/api "phase $(jget .phase), ended '$(jget '.ended // empty')', want phase done and an end time"
	else
		pass done/api
	fi
}

check_done_page() {
	[[ -n $CHROMIUM ]] || return 0
	browser done || { page_fail done/page done "chromium did not render the page"; return; }
	local state phase records lines api
	state=$(dom_text done job-state)
	phase=$(dom_text done job-phase)
	records=$(dom_attr done 'data-counter="map_input_records"' data-value)
	# awk counts a last line without a newline too, as the engine does.
	lines=$(awk 'END { print NR }' "${INPUTS[@]}")
	api=$(jget .counters.builtin.map_input_records)
	if [[ $state != succeeded || $phase != done ]]; then
		page_fail done/page done "#job-state '$state', #job-phase '$phase', want succeeded and done"
	elif [[ $records != "$lines" ]]; then
		page_fail done/page done "map_input_records on the page is '$records', want $lines (the inputs' lines; the API says $api)"
	elif [[ $api != "$lines" ]]; then
		fail done/page "map_input_records in the API is '$api', want $lines"
	else
		pass "done/page (map_input_records $records; bin/test-status/done.png)"
	fi
}

check_output() {
	mkdir -p "$JOB/seq" && cd "$JOB" || return
	timeout -k 2 "$T" "$MR" seq --out seq "$APPS/slow.so" "${INPUTS[@]}" 2>seq.log || { fail output "mr seq failed: $(tail -1 seq.log)"; return; }
	compgen -G "out/mr-out-*" >/dev/null || { fail output "no out/mr-out-* files"; return; }
	sort seq/mr-out-0 >ref
	sort out/mr-out-* >all
	cmp -s all ref && pass output || fail output "output differs from mr seq ($(diff all ref | head -3 | tr '\n' ' '))"
}

# stop_job: SIGTERM during the grace period; mr run must exit 0 (the job
# succeeded) within 10 s, long before the grace runs out. The signal goes
# to mr run itself, as kill PID would: timeout would pass it on to mr run
# and then again to its whole process group, and mr run takes a second
# signal as "stop now", exiting 143.
stop_job() {
	local mr
	mr=$(ps -o pid= --ppid "$RUN" | awk 'NR == 1 { print $1 }')
	[[ -n $mr ]] || { fail stop "mr run had exited before SIGTERM"; return; }
	kill -TERM "$mr"
	local deadline=$((SECONDS + 10))
	while ((SECONDS < deadline)) && kill -0 "$RUN" 2>/dev/null; do sleep 0.1; done
	if kill -0 "$RUN" 2>/dev/null; then
		fail stop "mr run still running 10 s after SIGTERM"
		return
	fi
	wait "$RUN"
	local rc=$?
	RUN=
	[[ $rc == 0 ]] && pass stop || fail stop "mr run exited $rc after SIGTERM in the grace period: $(tail -1 "$JOB/run.log")"
}

run_checks() {
	local c
	for c in "$@"; do
		"$c"
		cd "$JOB" || exit 1
	done
}

if start_job; then
	if poll_api 'kind=map&limit=1' '.phase == "map" and (.phases[] | select(.kind == "map") | .done > 0 and .done < .tasks)' 60; then
		pass "mid-job/api ($(jget '.phases[] | select(.kind == "map") | "\(.done) of \(.tasks) map tasks done"'))"
		run_checks "${MID_CHECKS[@]}"
	else
		fail mid-job/api "never saw the map phase partly done (state $(jget .state), phase $(jget .phase)): $(tail -1 "$JOB/run.log")"
	fi
	if poll_api 'limit=1' '.state != "running"' "$T"; then
		run_checks "${DONE_CHECKS[@]}"
		stop_job
		run_checks "${AFTER_CHECKS[@]}"
	else
		fail done "the job did not end in $T s, or mr run exited without serving its end: $(tail -1 "$JOB/run.log")"
	fi
fi
echo "test-status: $passed passed, $failed failed"
((failed == 0))
