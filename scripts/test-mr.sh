#!/usr/bin/env bash
# End-to-end scenarios against bin/mr and bin/apps/*.so, in the spirit of the
# 6.5840 lab's test-mr.sh: every distributed run must match `mr seq`, byte for
# byte once sorted. Each scenario prints PASS or FAIL; the script exits
# non-zero if any failed. Every process runs under `timeout`, so nothing hangs.
#
# Usage: scripts/test-mr.sh [SCENARIO...]   (default: all)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MR=$ROOT/bin/mr
APPS=$ROOT/bin/apps
INPUTS=("$ROOT"/testdata/text-*.txt)
GOBUILDFLAGS=${GOBUILDFLAGS:--trimpath}
T=${T:-120} # seconds any one process may run

for f in "$MR" "$APPS/wc.so"; do
	[[ -x $f || -f $f ]] || { echo "test-mr: $f is missing; run 'make build apps' first" >&2; exit 1; }
done
((${#INPUTS[@]} > 0)) || { echo "test-mr: no testdata/text-*.txt inputs" >&2; exit 1; }
command -v jq >/dev/null || { echo "test-mr: needs jq to read job summaries (apt-get install jq)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/test-mr.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	# Workers restarted by loops are children of those loops' subshells.
	pkill -9 -f "$WORK" 2>/dev/null
	[[ -n ${KEEP:-} ]] && echo "test-mr: kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# bg CMD...: start a bounded background process and remember it.
bg() {
	timeout -k 2 "$T" "$@" &
	PIDS+=($!)
}

# newdir NAME: a fresh directory for a scenario; cd into it.
newdir() {
	mkdir -p "$WORK/$1" && cd "$WORK/$1" || exit 1
}

# reference APP [--param ...]: sorted `mr seq` output into ./ref.
reference() {
	local app=$1
	shift
	mkdir -p seq
	timeout -k 2 "$T" "$MR" seq --out seq "$@" "$APPS/$app.so" "${INPUTS[@]}" || return 1
	sort seq/mr-out-0 >ref
}

# same NAME: compare sorted mr-out-* in . with ./ref.
same() {
	if ! compgen -G "mr-out-*" >/dev/null; then
		fail "$1" "no mr-out-* files"
		return 1
	fi
	sort mr-out-* >all
	if cmp -s all ref; then
		return 0
	fi
	fail "$1" "output differs from mr seq ($(diff all ref | head -3 | tr '\n' ' '))"
	return 1
}

# cluster APP NWORKERS [master flags...]: a lab-style cluster in ., waits
# for it, and returns the master's exit status.
cluster() {
	local app=$1 n=$2
	shift 2
	timeout -k 2 "$T" "$MR" master "$@" "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	local w=()
	for i in $(seq "$n"); do
		timeout -k 2 "$T" "$MR" worker "$APPS/$app.so" 2>"worker-$i.log" &
		w+=($!)
		PIDS+=($!)
	done
	wait "$m"
	local rc=$?
	wait "${w[@]}" 2>/dev/null
	return $rc
}

scenario_wc() {
	newdir wc
	reference wc || { fail wc "mr seq failed"; return; }
	cluster wc 3 || { fail wc "master exited $?: $(tail -1 master.log)"; return; }
	same wc || return
	[[ -z $(find . -maxdepth 1 -name '.mr-*') ]] || { fail wc "scratch directory left behind"; return; }
	pass wc
}

scenario_indexer() {
	newdir indexer
	reference indexer || { fail indexer "mr seq failed"; return; }
	cluster indexer 2 || { fail indexer "master exited $?"; return; }
	same indexer && pass indexer
}

# Files split into many map tasks must give the same answer as whole files.
scenario_split() {
	newdir split
	reference indexer || { fail split "mr seq failed"; return; }
	cluster indexer 3 --split-size 20000 --nreduce 3 || { fail split "master exited $?"; return; }
	same split || return
	local n
	n=$(ls mr-out-* | wc -l)
	[[ $n == 3 ]] || { fail split "want 3 output files, got $n"; return; }
	pass split
}

# One master and 64 worker processes of one slot each (64 plugin loads on
# this machine's few cores), the workers started first so that all 64
# connect at once when the master comes up: a few hundred map tasks and 64
# reduces, spread so that at least half the workers commit one; the output
# is exact; every worker is told to exit, and exits 0 by itself within 10 s
# of the master (leftovers are killed and fail the scenario); no scratch
# directory is left, in the output directory or in the workers' TMPDIR.
scenario_many_workers() {
	local r=many-workers n=${MANY_WORKERS:-64} i
	newdir $r
	reference wc || { fail $r "mr seq failed"; return; }
	mkdir tmp
	# Started before the master, the workers retry the missing socket
	# (backing off to 1 s); none can start too late to join the job.
	local w=()
	for ((i = 1; i <= n; i++)); do
		TMPDIR=$PWD/tmp timeout -k 2 "$T" "$MR" worker --slots 1 "$APPS/wc.so" 2>"worker-$i.log" &
		w+=($!)
	done
	PIDS+=("${w[@]}")
	local start=$SECONDS
	# 8 kB splits make ~235 map tasks of the ~1.9 MB inputs. --map-memory
	# 1MiB: a map task's table starts with an arena of a quarter of its
	# budget, so the default 64 MiB costs each tiny task a 16 MiB
	# allocation, which adds ~5 s here.
	timeout -k 2 "$T" "$MR" master --split-size 8000 --nreduce 64 --map-memory 1MiB "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	wait "$m"
	local rc=$? took=$((SECONDS - start)) ended=$EPOCHREALTIME
	# Wait, up to 10 s, for every worker; the master tells each to exit
	# before it does (lingering at most 5 s for that).
	local left=() p deadline=$((SECONDS + 10))
	while :; do
		left=()
		for p in "${w[@]}"; do kill -0 "$p" 2>/dev/null && left+=("$p"); done
		((${#left[@]} == 0 || SECONDS >= deadline)) && break
		sleep 0.1
	done
	local lag
	lag=$(awk -v a="$ended" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	for p in "${left[@]}"; do
		disown "$p" 2>/dev/null # no "Killed" notice from this shell
		pkill -9 -P "$p"        # the worker, then the timeout around it
		kill -9 "$p" 2>/dev/null
	done
	local bad=()
	for ((i = 0; i < n; i++)); do
		[[ " ${left[*]} " == *" ${w[$i]} "* ]] && continue
		wait "${w[$i]}" || bad+=("worker $((i + 1)) exited $?: $(tail -1 "worker-$((i + 1)).log")")
	done
	((rc == 0)) || { fail $r "master exited $rc: $(tail -1 master.log)"; return; }
	((${#left[@]} == 0)) || { fail $r "${#left[@]} of $n workers still running 10 s after the master exited; killed"; return; }
	((${#bad[@]} == 0)) || { fail $r "${#bad[@]} workers failed; ${bad[0]}"; return; }
	same $r || return
	local sum=mr-job.json maps joined committed lost dead
	[[ -f $sum ]] || { fail $r "no mr-job.json"; return; }
	maps=$(jq '[.tasks.tasks[] | select(.kind == "map")] | length' $sum)
	# A worker declared dead rejoins as ID~1: count processes, not names.
	joined=$(jq '[.workers.workers[].id | sub("~[0-9]+$"; "")] | unique | length' $sum)
	dead=$(jq '.workers.dead' $sum)
	committed=$(jq '[.tasks.tasks[] | select(.state == "done") | .worker] | unique | length' $sum)
	lost=$(jq '.counters.builtin.attempts_lost' $sum)
	((maps >= 200)) || { fail $r "only $maps map tasks; want a few hundred"; return; }
	((joined == n)) || { fail $r "$joined of $n workers reached the master"; return; }
	((committed >= n / 2)) || { fail $r "only $committed of $n workers committed a task"; return; }
	[[ -z $(find . -maxdepth 1 -name '.mr-*') ]] || { fail $r "scratch directory left behind"; return; }
	[[ -z $(ls -A tmp) ]] || { fail $r "left in the workers' TMPDIR: $(ls -A tmp | head -3 | tr '\n' ' ')"; return; }
	pass "$r ($n workers, $committed committed tasks, $maps map tasks, $lost attempts lost, $dead declared dead, ${took}s, the last worker gone ${lag}s after the master)"
}

scenario_map_parallel() {
	newdir map-parallel
	cluster mtiming 2 || { fail map-parallel "master exited $?"; return; }
	local times par
	times=$(cat mr-out-* | grep -c '^times-')
	par=$(cat mr-out-* | awk '$1 == "parallel" {print $2}')
	if [[ $times -ne 2 ]]; then
		fail map-parallel "maps ran in $times worker processes, want 2"
	elif [[ ${par:-0} -lt 2 ]]; then
		fail map-parallel "maps did not run in parallel (max $par at once)"
	else
		pass map-parallel
	fi
}

scenario_reduce_parallel() {
	newdir reduce-parallel
	cluster rtiming 2 || { fail reduce-parallel "master exited $?"; return; }
	local par
	par=$(cat mr-out-* | awk '$2 > m {m = $2} END {print m + 0}')
	if [[ $par -lt 2 ]]; then
		fail reduce-parallel "reduces did not run in parallel (max $par at once)"
	else
		pass reduce-parallel
	fi
}

scenario_job_count() {
	newdir job-count
	cluster jobcount 4 || { fail job-count "master exited $?"; return; }
	local got
	got=$(cat mr-out-* | awk '$1 == "a" {print $2}')
	if [[ $got != "${#INPUTS[@]}" ]]; then
		fail job-count "map tasks ran $got times, want ${#INPUTS[@]}"
	else
		pass job-count
	fi
}

# No process may exit while the output is still changing.
scenario_early_exit() {
	newdir early-exit
	reference earlyexit || { fail early-exit "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" master "${INPUTS[@]}" 2>master.log &
	local all=($!)
	for i in 1 2 3; do
		timeout -k 2 "$T" "$MR" worker "$APPS/earlyexit.so" 2>/dev/null &
		all+=($!)
	done
	PIDS+=("${all[@]}")
	wait -n "${all[@]}"
	sort mr-out-* 2>/dev/null >first
	wait "${all[@]}"
	sort mr-out-* >final
	if ! cmp -s first final; then
		fail early-exit "a process exited before the output was final"
	elif ! cmp -s final ref; then
		fail early-exit "output differs from mr seq"
	else
		pass early-exit
	fi
}

# Workers exit or stall at random; a loop restarts them. The answer must
# still equal the reference computed without crashes.
scenario_crash() {
	newdir crash
	reference nocrash || { fail crash "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" master --task-timeout 2s "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	for i in 1 2 3; do
		(
			while kill -0 "$m" 2>/dev/null; do
				timeout -k 2 "$T" "$MR" worker --connect-timeout 3s "$APPS/crash.so" 2>/dev/null
				sleep 0.2
			done
		) &
		PIDS+=($!)
	done
	wait "$m" || { fail crash "master exited $?: $(tail -1 master.log)"; return; }
	same crash && counted crash && pass crash
}

# counted NAME: the job summary in . counts each task once, though crashes
# ran many twice: the crash app's "lines" and the engine's
# map_input_records equal the inputs' lines, and its "keys" the 4 keys.
counted() {
	local sum=mr-job.json lines got
	lines=$(awk 'END { print NR }' "${INPUTS[@]}")
	[[ -f $sum ]] || { fail "$1" "no mr-job.json"; return 1; }
	got=$(jq -r '"\(.counters.user.lines) \(.counters.builtin.map_input_records) \(.counters.user.keys)"' "$sum")
	if [[ $got != "$lines $lines 4" ]]; then
		fail "$1" "counters lines, map_input_records, keys = $got; want $lines $lines 4 ($(jq -r .counters.builtin.attempts_lost "$sum") attempts lost)"
		return 1
	fi
}

# wait_for_log FILE PATTERN: wait, up to 20 s, until FILE has a line
# matching PATTERN.
wait_for_log() {
	local i
	for ((i = 0; i < 400; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return
		sleep 0.05
	done
	return 1
}

# wait_until CMD: wait, up to 20 s, until the shell command CMD succeeds.
wait_until() {
	local i
	for ((i = 0; i < 400; i++)); do
		eval "$1" && return
		sleep 0.05
	done
	return 1
}

# wait_for_task LOG: wait, up to 20 s, until a worker started with -v and
# logging to LOG has begun a map task.
wait_for_task() {
	wait_for_log "$1" "map task .* start"
}

# A worker killed with SIGKILL in the middle of a map task: the task runs
# again elsewhere and the output is exact.
scenario_worker_killed() {
	newdir worker-killed
	reference slow || { fail worker-killed "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" master --task-timeout 1s --param sleep=1s "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	timeout -k 2 "$T" "$MR" worker -v "$APPS/slow.so" 2>victim.log &
	local victim=$!
	PIDS+=("$victim")
	wait_for_task victim.log
	# SIGKILL the worker itself, not just the timeout wrapping it.
	pkill -9 -P "$victim"
	kill -9 "$victim" 2>/dev/null
	bg "$MR" worker "$APPS/slow.so" 2>/dev/null
	bg "$MR" worker "$APPS/slow.so" 2>/dev/null
	wait "$m" || { fail worker-killed "master exited $?: $(tail -1 master.log)"; return; }
	grep -q "lost" master.log || { fail worker-killed "the master never noticed the lost task"; return; }
	same worker-killed && pass worker-killed
}

# A worker frozen with SIGSTOP in the middle of a map task stops
# heartbeating: its task runs again elsewhere. Thawed after the job is
# done, its late report must change nothing, and it must still exit.
scenario_worker_stopped() {
	newdir worker-stopped
	reference slow || { fail worker-stopped "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" master --task-timeout 1s --param sleep=1s "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	timeout -k 2 "$T" "$MR" worker -v --connect-timeout 2s "$APPS/slow.so" 2>frozen.log &
	local frozen=$!
	PIDS+=("$frozen")
	wait_for_task frozen.log
	local fpid
	fpid=$(pgrep -P "$frozen")
	kill -STOP "$fpid"
	bg "$MR" worker "$APPS/slow.so" 2>/dev/null
	wait "$m" || { fail worker-stopped "master exited $?: $(tail -1 master.log)"; kill -CONT "$fpid"; return; }
	sort mr-out-* >before
	kill -CONT "$fpid"
	wait "$frozen"
	local rc=$?
	sort mr-out-* >after
	if [[ $rc == 124 || $rc == 137 ]]; then
		fail worker-stopped "the thawed worker never exited"
	elif ! grep -q "lost" master.log; then
		fail worker-stopped "the master never gave up on the frozen worker's task"
	elif ! cmp -s before after; then
		fail worker-stopped "the thawed worker changed the output"
	else
		same worker-stopped && pass worker-stopped
	fi
}

# flip FILE: XOR the byte in the middle of FILE with 0x5a, in place.
flip() {
	local size off b
	size=$(stat -c %s "$1") || return 1
	off=$((size / 2))
	b=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 0x5a)))" | dd of="$1" bs=1 seek="$off" conv=notrunc status=none
}

# A byte flipped in a committed map output while other map tasks still
# run (each sleeps 1 s, one worker): the reducer that reads the damaged
# segment reports it, the master logs it and runs that map task again,
# and the output is exact.
scenario_corrupt() {
	newdir corrupt
	reference slow || { fail corrupt "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" master --param sleep=1s "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	bg "$MR" worker -v "$APPS/slow.so" 2>worker.log
	wait_for_log worker.log "map task [0-9]* attempt 1: done" || { fail corrupt "no map task finished"; return; }
	local id file
	id=$(grep -o -m1 "map task [0-9]* attempt 1: done" worker.log | awk '{ print $3 }')
	file=$(find . -path "./.mr-*/m$id-a1" | head -1)
	[[ -n $file ]] || { fail corrupt "map task $id's output m$id-a1 not found"; return; }
	grep -q "map phase done" master.log && { fail corrupt "the map phase ended before the flip; too fast to test"; return; }
	flip "$file" || { fail corrupt "could not flip a byte in $file"; return; }
	wait "$m" || { fail corrupt "master exited $?: $(tail -1 master.log)"; return; }
	grep -q "corrupt map output: map task $id's segment" master.log ||
		{ fail corrupt "the master never reported map task $id's output corrupt"; return; }
	grep -q "map task $id attempt 1 .*found its output corrupt; running it again" master.log ||
		{ fail corrupt "map task $id did not run again"; return; }
	same corrupt && pass corrupt
}

# With --secret-file, a worker must prove the master's secret: one with
# the wrong secret, or none, is refused at once with a message that says
# so, and one with the right secret does the job.
scenario_secret() {
	newdir secret
	reference wc || { fail secret "mr seq failed"; return; }
	head -c 32 /dev/urandom | base64 >good.key
	head -c 32 /dev/urandom | base64 >bad.key
	timeout -k 2 "$T" "$MR" master --secret-file good.key "${INPUTS[@]}" 2>master.log &
	local m=$!
	PIDS+=("$m")
	expect_error secret/wrong "refused this worker's secret" "$MR" worker --secret-file bad.key "$APPS/wc.so"
	expect_error secret/none "requires a shared secret" "$MR" worker "$APPS/wc.so"
	timeout -k 2 "$T" "$MR" worker --secret-file good.key "$APPS/wc.so" 2>worker.log
	wait "$m" || { fail secret "master exited $?: $(tail -1 master.log)"; return; }
	if ! grep -q "refused a connection" master.log; then
		fail secret "the master did not log the refusal"
	elif same secret; then
		pass secret
	fi
	mkdir open && cd open || return
	timeout -k 2 30 "$MR" master --listen unix:open.sock "${INPUTS[0]}" 2>/dev/null &
	local open=$!
	PIDS+=("$open")
	expect_error secret/master-has-none "uses none" "$MR" worker --secret-file ../good.key --master unix:open.sock "$APPS/wc.so"
	pkill -P "$open"
	kill "$open" 2>/dev/null
	cd ..
}

# mr master --app serves the app: a worker started without one fetches it,
# checks its hash and runs it; a worker with another app is refused. With
# --ship-inputs the worker reads its splits through the master too, and
# with --collect-output sends its reduce output back through it.
scenario_ship_app() {
	newdir ship-app
	reference wc || { fail ship-app "mr seq failed"; return; }
	# Relative input paths that mean nothing where the worker runs: with
	# --ship-inputs it reads them through the master.
	mkdir in && cp "${INPUTS[@]}" in/
	timeout -k 2 "$T" "$MR" master --listen "unix:$PWD/m.sock" --app "$APPS/wc.so" --ship-inputs --collect-output in/*.txt 2>master.log &
	local m=$!
	PIDS+=("$m")
	expect_error ship-app/other-app "is not the job's wc.so" "$MR" worker --master "unix:$PWD/m.sock" "$APPS/indexer.so"
	mkdir elsewhere
	(cd elsewhere && timeout -k 2 "$T" "$MR" worker --master "unix:$PWD/../m.sock" 2>worker.log)
	local rc=$?
	wait "$m" || { fail ship-app "master exited $?: $(tail -1 master.log)"; return; }
	if [[ $rc != 0 ]]; then
		fail ship-app "the app-less worker exited $rc: $(tail -1 elsewhere/worker.log)"
	elif same ship-app; then
		pass ship-app
	fi
}

# Workers that share no files with the master, over loopback TCP with a
# secret: each keeps its map output in its own --workdir and serves it to
# the others. One is killed after the map phase, while reduces run; the map
# tasks whose output died with it must run again.
scenario_net_shuffle() {
	newdir net-shuffle
	reference slow || { fail net-shuffle "mr seq failed"; return; }
	head -c 32 /dev/urandom | base64 >secret
	timeout -k 2 "$T" "$MR" master --listen 127.0.0.1:0 --app "$APPS/slow.so" --ship-inputs --collect-output \
		--secret-file secret --nreduce 6 --split-size 100000 --task-timeout 3s --worker-timeout 1s \
		--param reducesleep=300us --out out "${INPUTS[@]}" 2>master.log &
	local m=$! i addr
	PIDS+=("$m")
	wait_for_log master.log "workers on 127.0.0.1:" || { fail net-shuffle "the master did not start: $(tail -1 master.log)"; return; }
	addr=$(sed -n 's/.* workers on \(127\.0\.0\.1:[0-9]*\)$/\1/p' master.log)
	local ws=() here=$PWD
	for i in 1 2 3; do
		mkdir "w$i"
		# Not exec'd, so that the subshell, not this shell, reports the
		# killed worker, into /dev/null.
		(cd "w$i" && timeout -k 2 "$T" "$MR" worker --master "$addr" --secret-file ../secret --workdir "$here/w$i/wd" -v 2>worker.log) 2>/dev/null &
		ws+=($!)
		PIDS+=($!)
	done
	wait_for_log master.log "map phase done" || { fail net-shuffle "no map phase end in the log: $(tail -1 master.log)"; return; }
	grep -q "serving map output" w2/worker.log || { fail net-shuffle "worker 2 served no map output"; return; }
	# The worker itself, not the timeout around it.
	pkill -9 -f -- "^$MR worker .*--workdir $here/w2/wd"
	wait "$m" || { fail net-shuffle "master exited $?: $(tail -1 master.log)"; return; }
	for i in 0 2; do
		wait "${ws[$i]}" || { fail net-shuffle "worker $((i + 1)) exited $?: $(tail -1 "w$((i + 1))/worker.log")"; return; }
	done
	grep -q "lost with its worker\|could not fetch" master.log ||
		{ fail net-shuffle "no map task ran again after worker 2 died"; return; }
	cd out && cp ../ref . && same net-shuffle && pass net-shuffle
}

# mr run: one command, a master plus worker processes.
scenario_run() {
	newdir run
	reference wc || { fail run "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" run --workers 3 --out . "$APPS/wc.so" "${INPUTS[@]}" 2>run.log ||
		{ fail run "mr run exited $?: $(tail -1 run.log)"; return; }
	same run && pass run
}

# A tiny --map-memory forces map tasks to spill and merge their spills, and
# a merge factor of 2 forces multi-pass merges on both sides; with and
# without a Combine, the answer must not change.
scenario_spill() {
	newdir spill
	local app
	for app in wc indexer; do
		mkdir -p "$app" && cd "$app" || return
		reference "$app" || { fail "spill/$app" "mr seq failed"; cd ..; continue; }
		timeout -k 2 "$T" "$MR" run --workers 2 --map-memory 16KiB --merge-factor 2 --split-size 100000 --out . \
			"$APPS/$app.so" "${INPUTS[@]}" 2>run.log || { fail "spill/$app" "mr run exited $?: $(tail -1 run.log)"; cd ..; continue; }
		local spills
		spills=$(sed -n 's/.* \([0-9]*\) map spills$/\1/p' run.log)
		if [[ ${spills:-0} -lt 10 ]]; then
			fail "spill/$app" "only ${spills:-0} spills under a 16KiB buffer"
		elif same "spill/$app"; then
			pass "spill/$app"
		fi
		cd ..
	done
}

# mr run replaces workers that die.
scenario_run_crash() {
	newdir run-crash
	reference nocrash || { fail run-crash "mr seq failed"; return; }
	timeout -k 2 "$T" "$MR" run --workers 3 --task-timeout 2s --out . "$APPS/crash.so" "${INPUTS[@]}" 2>run.log ||
		{ fail run-crash "mr run exited $?: $(tail -1 run.log)"; return; }
	same run-crash && counted run-crash && pass run-crash
}

# expect_error NAME WANT CMD...: CMD must exit non-zero within the time
# limit, printing one line on stderr that contains WANT, and no stack trace.
expect_error() {
	local name=$1 want=$2
	shift 2
	timeout -k 2 30 "$@" >out.txt 2>err.txt
	local rc=$?
	if [[ $rc == 0 ]]; then
		fail "$name" "exited 0, want an error"
	elif [[ $rc == 124 || $rc == 137 ]]; then
		fail "$name" "hung"
	elif ! grep -qF -- "$want" err.txt; then
		fail "$name" "stderr lacks '$want': $(head -3 err.txt)"
	elif grep -q "goroutine \|panic(" err.txt; then
		fail "$name" "printed a stack trace"
	else
		pass "$name"
	fi
}

scenario_bad_input() {
	newdir bad-input
	expect_error bad-input/missing-file "missing.txt" "$MR" master --listen unix:m.sock missing.txt
	mkfifo fifo
	expect_error bad-input/not-regular "not a regular file" "$MR" master --listen unix:m.sock fifo
	expect_error bad-input/no-inputs "no inputs" "$MR" master
	expect_error bad-input/bad-flag "unknown flag: --bogus" "$MR" master --bogus x
	expect_error bad-input/bad-nreduce "--nreduce 0" "$MR" run --nreduce 0 "$APPS/wc.so" "${INPUTS[0]}"
	expect_error bad-input/bad-advertise "give a host only" "$MR" worker --advertise host:80 "$APPS/wc.so"
	expect_error bad-input/bad-worker-timeout "--worker-timeout 1ms" "$MR" master --worker-timeout 1ms "${INPUTS[0]}"
	expect_error bad-input/bad-skip "--skip-bad-records -1: must not be negative" "$MR" master --skip-bad-records -1 "${INPUTS[0]}"
	expect_error bad-input/bad-param "--param" "$MR" master --param nokey "${INPUTS[0]}"
	expect_error bad-input/no-app "no such file" "$MR" worker missing.so
	expect_error bad-input/unreachable "unreachable" "$MR" worker --master unix:nobody.sock --connect-timeout 1s "$APPS/wc.so"
	expect_error bad-input/unknown-command "unknown command" "$MR" frobnicate
	local n
	n=$("$MR" master --help 2>/dev/null | grep -c '^Usage: mr master')
	if [[ $n == 1 ]] && "$MR" master --help >/dev/null 2>&1; then
		pass bad-input/help
	else
		fail bad-input/help "mr master --help printed its usage $n times on stdout, or failed"
	fi

	for p in nomap badsig; do
		(cd "$ROOT" && go build $GOBUILDFLAGS -buildmode=plugin -o "$WORK/bad-input/$p.so" ./testdata/plugins/$p) ||
			{ fail bad-input/plugin-$p "could not build the test plugin"; continue; }
	done
	expect_error bad-input/plugin-nomap "does not export Map" "$MR" worker nomap.so
	expect_error bad-input/plugin-badsig "exports Map as func(string) []mr.KeyValue" "$MR" worker badsig.so
	expect_error bad-input/plugin-not-so "$ROOT/README.md" "$MR" seq "$ROOT/README.md" "${INPUTS[0]}"

	# A second master on a running master's --out is refused, naming it,
	# and removes none of its files.
	mkdir busy
	# Not under timeout, so that $! is the master itself; it is killed
	# below, or by cleanup.
	"$MR" master --listen unix:first.sock --out busy "${INPUTS[0]}" >/dev/null 2>first.log &
	local first=$!
	PIDS+=("$first")
	wait_for_log first.log "serving"
	echo kept >busy/mr-out-0 # as if the first job had written it
	expect_error bad-input/out-locked "is locked by process $first on host" "$MR" master --listen unix:second.sock --out busy "${INPUTS[0]}"
	kill -9 "$first" 2>/dev/null
	wait "$first" 2>/dev/null
	[[ -f busy/mr-out-0 ]] || fail bad-input/out-locked "a master removed the output of the one before it"

	# Binary and empty input are fine, and still exact.
	mkdir data
	head -c 300000 /dev/urandom >data/random.bin
	: >data/empty.txt
	cp "${INPUTS[0]}" data/
	mkdir seq
	timeout -k 2 "$T" "$MR" seq --out seq "$APPS/wc.so" data >/dev/null 2>&1 || { fail bad-input/binary "mr seq failed"; return; }
	sort seq/mr-out-0 >ref
	timeout -k 2 "$T" "$MR" run --workers 2 --split-size 50000 --out . "$APPS/wc.so" data 2>run.log ||
		{ fail bad-input/binary "mr run exited $?: $(tail -1 run.log)"; return; }
	same bad-input/binary && pass bad-input/binary
}

# An app that panics on some input: the job fails after --max-attempts with
# a message naming the task, the input and the panic, and every process ends.
scenario_poison() {
	newdir poison
	cp "${INPUTS[0]}" good.txt
	printf 'some words\nthen POISON here\n' >bad.txt
	timeout -k 2 60 "$MR" master --max-attempts 2 good.txt bad.txt 2>master.log &
	local m=$!
	local w=()
	for i in 1 2; do
		timeout -k 2 60 "$MR" worker "$APPS/poison.so" 2>"worker-$i.log" &
		w+=($!)
	done
	PIDS+=("$m" "${w[@]}")
	wait "$m"
	local rc=$?
	local wrc=0
	for p in "${w[@]}"; do wait "$p" || wrc=$?; done
	if [[ $rc == 0 ]]; then
		fail poison "master exited 0 for a job whose map always panics"
	elif [[ $rc == 124 || $rc == 137 || $wrc == 124 || $wrc == 137 ]]; then
		fail poison "a process hung"
	elif ! grep -q "map task .*bad.txt.*failed 2 times.*panic: poison: found POISON" master.log; then
		fail poison "master message lacks task, input or panic: $(tail -1 master.log)"
	elif ! grep -q "job failed" worker-1.log worker-2.log; then
		# One worker may run both failing attempts and the master end the
		# job before the other has connected, so either may be the one told.
		fail poison "no worker said the job failed: $(tail -1 worker-1.log) / $(tail -1 worker-2.log)"
	else
		pass poison
	fi
	expect_error poison/run "panic: poison" "$MR" run --workers 2 --max-attempts 2 --out . "$APPS/poison.so" good.txt bad.txt
}

# skip_inputs: ./bad holds the inputs with a line BADRECORD added to two of
# them, the second in a later split of its file; ./ref is `mr seq` over the
# inputs as they were, sorted, and ./offsets where the bad lines start.
skip_inputs() {
	mkdir -p bad clean seq
	cp "${INPUTS[@]}" clean/ && cp "${INPUTS[@]}" bad/ || return 1
	sed -i '100a BADRECORD' bad/text-1.txt && sed -i '4000a BADRECORD' bad/text-4.txt || return 1
	grep -bx BADRECORD bad/text-1.txt bad/text-4.txt | cut -d: -f1,2 | tr : ' ' >offsets
	[[ $(wc -l <offsets) == 2 ]] || return 1
	timeout -k 2 "$T" "$MR" seq --out seq "$APPS/badrecord.so" clean/* 2>seq.log || return 1
	sort seq/mr-out-0 >ref
}

# skip_cluster [master flags...]: a master over ./bad that cuts files into
# splits of 100 kB and fails a task after 2 failures, with 2 workers of
# the badrecord app that loops restart when they die, at most 30 times
# each; returns the master's exit status.
skip_cluster() {
	timeout -k 2 "$T" "$MR" master --task-timeout 1s --max-attempts 2 --split-size 100000 "$@" bad 2>master.log &
	local m=$!
	PIDS+=("$m")
	local loops=()
	for i in 1 2; do
		(
			for _ in $(seq 30); do
				kill -0 "$m" 2>/dev/null || break
				timeout -k 2 "$T" "$MR" worker --connect-timeout 3s "$APPS/badrecord.so" 2>>"worker-$i.log"
				sleep 0.2
			done
		) &
		loops+=($!)
	done
	PIDS+=("${loops[@]}")
	wait "$m"
	local rc=$?
	wait "${loops[@]}"
	return $rc
}

# skipped NAME LOG: LOG names each bad line by file and byte offset, and
# the job summary lists both and counts them.
skipped() {
	local f off
	while read -r f off; do
		grep -q "skipping bad record: $f byte $off: \"BADRECORD\"" "$2" ||
			{ fail "$1" "no 'skipping bad record: $f byte $off' in the log: $(grep -m1 skipping "$2")"; return 1; }
	done <offsets
	[[ $(jq '.counters.builtin.records_skipped' mr-job.json) == 2 && $(jq '.skipped_records | length' mr-job.json) == 2 ]] ||
		{ fail "$1" "mr-job.json does not list and count 2 skipped records: $(jq -c .skipped_records mr-job.json)"; return 1; }
}

# --skip-bad-records: a Map that panics on a line, or exits the worker on
# it, has that line skipped, and the output equals mr seq's over the input
# without it; a Reduce that exits on a key has the key skipped. Without
# the flag the job fails as it always did.
scenario_skip() {
	newdir skip
	skip_inputs || { fail skip "could not make the inputs, or mr seq failed"; return; }
	local mode
	for mode in panic exit; do
		mkdir -p "$WORK/skip/$mode" && cd "$WORK/skip/$mode" && cp -r ../bad ../offsets ../ref . || return
		skip_cluster --skip-bad-records 2 --param crash=$mode || { fail skip/$mode "master exited $?: $(tail -1 master.log)"; return; }
		same skip/$mode && skipped skip/$mode master.log || return
	done
	mkdir -p "$WORK/skip/off" && cd "$WORK/skip/off" && cp -r ../bad . || return
	if skip_cluster; then
		fail skip/off "the job succeeded without --skip-bad-records"
		return
	elif ! grep -q "job failed: map task .*failed 2 times.*panic: badrecord: found BADRECORD" master.log; then
		fail skip/off "the master did not fail the job for the bad line: $(tail -1 master.log)"
		return
	fi
	mkdir -p "$WORK/skip/reduce" && cd "$WORK/skip/reduce" || return
	grep -v '^BADRECORD ' ../ref >ref
	timeout -k 2 "$T" "$MR" run --workers 2 --task-timeout 1s --skip-bad-records 1 --param crash=reduce-exit --out . "$APPS/badrecord.so" ../bad 2>run.log ||
		{ fail skip/reduce "mr run exited $?: $(tail -1 run.log)"; return; }
	same skip/reduce || return
	grep -q 'skipping bad record: key "BADRECORD"' run.log || { fail skip/reduce "no 'skipping bad record: key \"BADRECORD\"' in the log"; return; }
	pass skip
}

# A TeraSort-style job: the engine samples the keys before the map phase
# and the sort app range-partitions on the cut points, so mr-out-0..4 taken
# in order are one sorted file, byte for byte LC_ALL=C sort of the inputs
# (mr gen's keys are unique), with no partition over twice its share.
scenario_sort() {
	newdir sort
	[[ -f $APPS/sort.so ]] || { fail sort "$APPS/sort.so is missing; run 'make apps'"; return; }
	timeout -k 2 "$T" "$MR" gen --kind records --files 4 --size 200000 --out data 2>gen.log ||
		{ fail sort "mr gen --kind records failed: $(tail -1 gen.log)"; return; }
	LC_ALL=C sort data/* >ref
	timeout -k 2 "$T" "$MR" run --workers 3 --nreduce 5 --split-size 65536 --out . "$APPS/sort.so" data 2>run.log ||
		{ fail sort "mr run exited $?: $(tail -1 run.log)"; return; }
	grep -q "sampled [0-9]* keys" run.log || { fail sort "no sample phase in the log: $(tail -1 run.log)"; return; }
	local outs=(mr-out-0 mr-out-1 mr-out-2 mr-out-3 mr-out-4)
	[[ $(ls mr-out-* | wc -l) == 5 ]] && cat "${outs[@]}" >all 2>/dev/null ||
		{ fail sort "want mr-out-0 to mr-out-4, got: $(ls mr-out-* | tr '\n' ' ')"; return; }
	cmp -s all ref || { fail sort "mr-out-0..4 concatenated are not the sorted input ($(cmp all ref 2>&1 | head -1))"; return; }
	local total f n
	total=$(wc -l <ref)
	for f in "${outs[@]}"; do
		n=$(wc -l <"$f")
		((n * ${#outs[@]} <= 2 * total)) || { fail sort "$f holds $n of $total records, over twice its share"; return; }
	done
	mkdir -p seq
	timeout -k 2 "$T" "$MR" seq --out seq "$APPS/sort.so" data 2>seq.log || { fail sort "mr seq failed: $(tail -1 seq.log)"; return; }
	cmp -s seq/mr-out-0 ref || { fail sort "mr seq output is not the sorted input"; return; }
	pass sort
}

# The master SIGKILLed mid-job and started again with the same flags: it
# resumes from its journal, and the workers, which ride out its absence,
# finish the job exactly. Killed once the map phase is done, it runs no
# map task again; killed after the first map task committed, or once the
# first reduce output is in place, it keeps what was committed.
scenario_master_killed() {
	# The smallest input, cut into several map tasks, with few enough keys
	# that reduces sleeping 1ms per key take a few seconds.
	local in when resumed r
	in=$(ls -S -r "${INPUTS[@]}" | head -1)
	for when in after-maps mid-map mid-reduce; do
		r=master-killed/$when
		newdir "$r"
		mkdir -p seq
		timeout -k 2 "$T" "$MR" seq --out seq "$APPS/slow.so" "$in" 2>/dev/null && sort seq/mr-out-0 >ref ||
			{ fail "$r" "mr seq failed"; return; }
		local flags=(--listen unix:m.sock --nreduce 4 --split-size 16KiB --param sleep=300ms --param reducesleep=1ms)
		timeout -k 2 "$T" "$MR" master "${flags[@]}" "$in" 2>master-1.log &
		local m=$!
		PIDS+=("$m")
		local w=()
		for i in 1 2; do
			timeout -k 2 "$T" "$MR" worker --master unix:m.sock "$APPS/slow.so" 2>"worker-$i.log" &
			w+=($!)
			PIDS+=($!)
		done
		case $when in
		after-maps) wait_for_log master-1.log "map phase done" ;;
		mid-map) wait_until 'grep -qs "\"map\":" .mr-*/journal' ;;
		mid-reduce) wait_until 'compgen -G "mr-out-*" >/dev/null' ;;
		esac || { fail "$r" "the job never got there: $(tail -1 master-1.log)"; return; }
		pkill -9 -P "$m"
		wait "$m" 2>/dev/null
		timeout -k 2 "$T" "$MR" master "${flags[@]}" "$in" 2>master-2.log ||
			{ fail "$r" "the restarted master exited $?: $(tail -1 master-2.log)"; return; }
		wait "${w[@]}" 2>/dev/null
		resumed=$(grep -o "resuming.*" master-2.log)
		[[ $resumed =~ ([0-9]+)\ of\ ([0-9]+)\ map\ tasks\ and\ ([0-9]+)\ of\ ([0-9]+)\ reduce ]] ||
			{ fail "$r" "the restarted master did not resume: $(head -1 master-2.log)"; return; }
		local maps=${BASH_REMATCH[1]} nmap=${BASH_REMATCH[2]} reduces=${BASH_REMATCH[3]}
		same "$r" || return
		case $when in
		after-maps)
			((maps == nmap && reduces < 4)) && [[ $(jq '[.tasks.tasks[] | select(.kind == "map" and .attempts != 1)] | length' mr-job.json) == 0 ]] ||
				{ fail "$r" "map tasks ran again, or the kill came late: $resumed"; return; } ;;
		mid-map)
			((maps > 0 && maps < nmap)) || { fail "$r" "want some but not all map tasks kept: $resumed"; return; } ;;
		mid-reduce)
			((maps == nmap && reduces > 0 && reduces < 4)) || { fail "$r" "want every map and some reduces kept: $resumed"; return; } ;;
		esac
		[[ $(jq -r .counters.builtin.map_input_records mr-job.json) == $(awk 'END { print NR }' "$in") ]] ||
			{ fail "$r" "the resumed job's map_input_records is not the input's line count"; return; }
		[[ -z $(find . -maxdepth 1 -name '.mr-*' -type d) ]] || { fail "$r" "scratch directory left behind"; return; }
		pass "$r ($resumed)"
		cd "$WORK" || exit 1
	done
}

ALL=(wc indexer split many_workers spill map_parallel reduce_parallel job_count early_exit crash worker_killed worker_stopped corrupt master_killed secret ship_app net_shuffle run run_crash bad_input poison skip sort)
want=("$@")
((${#want[@]})) || want=("${ALL[@]}")
for s in "${want[@]}"; do
	"scenario_${s//-/_}"
	cd "$WORK" || exit 1
done
echo "test-mr: $passed passed, $failed failed"
((failed == 0))
