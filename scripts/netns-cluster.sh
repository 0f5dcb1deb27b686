#!/usr/bin/env bash
# A four-host cluster on this machine, built from network namespaces: a
# master host and three worker hosts, each with its own address on a private
# /24, joined by veth pairs to a bridge that lives in a namespace of its own.
# Nothing is added to the root namespace's network, and nothing leaves it.
#
# The master host holds the inputs, the app and the outputs. Each worker host
# runs `mr worker` in its own mount namespace, where tmpfs mounts hide /tmp,
# the script's work directory, this checkout and $HOME/.cache: all it sees is
# its private directory, holding a copy of bin/mr and of the secret. It
# fetches the app, reads its splits and sends its output through the master,
# and keeps its map output in its own --workdir for reducers to fetch.
#
# Scenarios, each checked against `mr seq` of the same app, sorted (the two
# that use the slow app, whose reduces sleep per key, read only the two
# smallest inputs):
#   all-up        every host up
#   host-killed   a worker host that ran map tasks has every process in it
#                 killed with SIGKILL once the map phase is over, while
#                 reduces run
#   link-cut      a worker host's link is cut at the bridge mid-job, after it
#                 committed a map task: silence, not resets
#   wrong-secret  a worker holding the wrong secret is refused: it exits
#                 non-zero saying so, and the master logs the refusal
#   s3            inputs and output in an S3 store (versitygw) on the master
#                 host, which workers reach over the network: no
#                 --ship-inputs, no --collect-output; the output prefix must
#                 hold exactly mr-out-*, mr-job.json and _SUCCESS (skipped,
#                 saying why, if versitygw cannot be built)
# Before any scenario the script checks, once, that a worker host cannot see
# the master's inputs, outputs, app or binary.
#
# Each scenario prints PASS or FAIL; the script exits non-zero if any failed.
# Every process runs under `timeout`, every wait polls a condition with a
# deadline, and every namespace, veth, bridge, mount and process it made is
# removed on exit, Ctrl-C included. Without root, ip or unshare it prints
# "netns-cluster: SKIP (why)" and exits 0.
#
# Usage: scripts/netns-cluster.sh [SCENARIO...]   (default: all)
# Environment: T (seconds any one process may run, default 120),
#   SUBNET (first three octets, default 10.231.7), COPIES (how many times
#   each testdata/text-*.txt is repeated in the inputs, default 3),
#   KEEP=1 (keep the work directory and its logs).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=netns-cluster
source "$ROOT/scripts/lib/netns.sh"
source "$ROOT/scripts/lib/s3.sh"
MR=$ROOT/bin/mr
APPS=$ROOT/bin/apps
T=${T:-120}
SUBNET=${SUBNET:-10.231.7}
COPIES=${COPIES:-3}
PORT=7070
MASTER_ADDR=$SUBNET.1:$PORT
HOSTS=(1 2 3)

ALL=(all-up host-killed link-cut wrong-secret s3)
want=("$@")
((${#want[@]})) || want=("${ALL[@]}")
for s in "${want[@]}"; do
	[[ " ${ALL[*]} " == *" $s "* ]] || { echo "netns-cluster: no scenario $s; have: ${ALL[*]}" >&2; exit 2; }
done

skip() {
	echo "netns-cluster: SKIP ($1)"
	exit 0
}
((EUID == 0)) || skip "needs root for ip netns and mount namespaces"
for c in ip unshare mount timeout; do
	command -v "$c" >/dev/null || skip "no $c command"
done
for f in "$MR" "$APPS/wc.so" "$APPS/slow.so"; do
	[[ -f $f ]] || { echo "netns-cluster: $f is missing; run 'make build apps' first" >&2; exit 1; }
done
INPUTS=("$ROOT"/testdata/text-*.txt)
[[ -f ${INPUTS[0]} ]] || { echo "netns-cluster: no testdata/text-*.txt inputs" >&2; exit 1; }

# Namespace names carry this shell's PID, so that runs never collide and a
# run killed with SIGKILL can be recognised and swept by the next one.
ID=mrnc$$
BR=$ID-br
NSES=("$BR" "$ID-m")
for h in "${HOSTS[@]}"; do NSES+=("$ID-h$h"); done

WORK=
PIDS=()

cleanup() {
	local ns
	disown -a # their ends are reported below, not as "Killed" notices
	for ns in "${NSES[@]}"; do
		ip netns list | grep -q "^$ns\b" && killns "$ns"
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	# Deleting a namespace destroys the veths and the bridge inside it; the
	# mount namespaces went with their last process.
	for ns in "${NSES[@]}"; do
		ip netns list | grep -q "^$ns\b" && ip netns delete "$ns"
	done
	local left
	left=$(ip netns list | grep "^$ID-")
	[[ -z $left ]] || echo "netns-cluster: could not delete namespaces: $left" >&2
	if [[ -n $WORK ]]; then
		grep -qF " $WORK" /proc/self/mountinfo && echo "netns-cluster: mounts left under $WORK" >&2
		[[ -n ${KEEP:-} ]] && echo "netns-cluster: kept $WORK" || rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sweep namespaces left by runs of this script that were killed too hard to
# clean up after themselves.
for ns in $(ip netns list 2>/dev/null | awk '/^mrnc[0-9]+-/ {print $1}'); do
	pid=${ns#mrnc}
	pid=${pid%%-*}
	kill -0 "$pid" 2>/dev/null && continue
	echo "netns-cluster: removing $ns, left by an earlier run" >&2
	killns "$ns"
	ip netns delete "$ns"
done

ip netns add "$BR" 2>/dev/null || skip "ip netns add fails here: $(ip netns add "$BR" 2>&1)"
unshare --mount true 2>/dev/null || skip "unshare --mount fails here"

# net_up: the bridge, and one namespace per host with a veth to the bridge:
# eth0 in the host, vm (master) or vN (worker N) in the bridge's namespace.
net_up() {
	bridge_up "$BR" || return 1
	local h ns addr
	for h in m "${HOSTS[@]}"; do
		ns=$ID-h$h addr=$SUBNET.1$h
		[[ $h == m ]] && ns=$ID-m addr=$SUBNET.1
		host_up "$BR" "$ns" "$addr" "v$h" || return 1
	done
}

# reaches N: host N's packets reach the master host, which answers a
# connection to a closed port with a reset at once ("refused"); a cut link
# gives a timeout or "unreachable" instead.
reaches() {
	local err
	err=$(timeout -k 1 2 ip netns exec "$ID-h$1" bash -c "exec 3<>/dev/tcp/$SUBNET.1/9" 2>&1)
	[[ $err == *refused* ]]
}
all_reach() {
	local h
	for h in "${HOSTS[@]}"; do reaches "$h" || return 1; done
}

# HIDE is run by sh on a worker host, in a fresh mount namespace:
# HIDE N PRIVDIR HIDDEN... -- CMD... hides every existing HIDDEN directory
# under an empty tmpfs, puts PRIVDIR back at its own path (through a
# descriptor opened before the hiding), and runs CMD there as host hN.
HIDE='
n=$1 priv=$2
shift 2
exec 3<"$priv" || exit 1
hostname "h$n"
while [ "$1" != -- ]; do
	if [ -d "$1" ]; then mount -t tmpfs -o mode=0755,size=256m hidden "$1" || exit 1; fi
	shift
done
shift
mkdir -p "$priv" && mount --no-canonicalize --bind /proc/self/fd/3 "$priv" && cd "$priv" || exit 1
exec 3<&-
exec "$@"
'
HIDDEN=(/tmp)
[[ -d $HOME/.cache ]] && HIDDEN+=("$HOME/.cache")

# on N CMD...: set ON to the command that runs CMD on worker host N, in its
# private directory, bounded by $T seconds. Run it as "${ON[@]}", in the
# foreground or with &, so that $! is the PID of its timeout.
on() {
	local n=$1
	shift
	ON=(timeout -k 2 "$T" ip netns exec "$ID-h$n" unshare --mount --uts --propagation private
		sh -c "$HIDE" sh "$n" "$WORK/h$n" "${HIDDEN[@]}" -- "$@")
}

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# The worker hosts share no directory with the master: each keeps its map
# output in its own --workdir and serves it to the others.
MASTER_FLAGS=(--task-timeout 2s --worker-timeout 3s)
WORKER_FLAGS=(--connect-timeout 5s -v --workdir ./work)

# setup: the work directory, the network, the inputs, the secrets and the
# references; then the isolation check.
setup() {
	WORK=$(mktemp -d /tmp/netns-cluster.XXXXXX) || exit 1
	HIDDEN+=("$WORK" "$ROOT")
	M=$WORK/master
	mkdir -p "$M/in" || exit 1
	local f i
	for f in "${INPUTS[@]}"; do
		for ((i = 0; i < COPIES; i++)); do cat "$f"; done >"$M/in/$(basename "$f")"
	done
	# The slow app sleeps once per key in Reduce, and a sleep takes at
	# least a millisecond, so the jobs that use it get the two smallest
	# files only: some 7,000 distinct words, a few seconds of reduces.
	mkdir -p "$M/in-slow" &&
		cp $(ls -S "$M"/in/*.txt | tail -2) "$M/in-slow/" || exit 1
	head -c 32 /dev/urandom | base64 >"$M/job.key"
	head -c 32 /dev/urandom | base64 >"$M/wrong.key"
	net_up || { echo "netns-cluster: could not build the network" >&2; exit 1; }
	until_ok 10 all_reach || { echo "netns-cluster: worker hosts cannot reach $SUBNET.1" >&2; exit 1; }
	for app in wc slow; do
		mkdir -p "$M/seq-$app"
		# The slow app's sleeps change its timing, not its output.
		timeout -k 2 "$T" "$MR" seq --out "$M/seq-$app" "$APPS/$app.so" "$M/$(inputs $app)" >/dev/null 2>&1 ||
			{ echo "netns-cluster: mr seq $app failed" >&2; exit 1; }
		sort "$M/seq-$app/mr-out-0" >"$M/ref-$app"
	done
}

# fresh_hosts KEY: empty private directories holding bin/mr and KEY as
# job.key, copied while the worker hosts can still see them.
fresh_hosts() {
	local h
	for h in "${HOSTS[@]}"; do
		rm -rf "$WORK/h$h" && mkdir -p "$WORK/h$h" &&
			cp "$MR" "$WORK/h$h/mr" && cp "$1" "$WORK/h$h/job.key" || exit 1
	done
}

# A worker host must not see the master's inputs, output, app or binary,
# nor another worker's directory, but must see its own copy of bin/mr.
check_isolation() {
	fresh_hosts "$M/job.key"
	mkdir -p "$M/isolation"
	local seen=("$M/in/$(basename "${INPUTS[0]}")" "$M/isolation" "$M/job.key" "$APPS/wc.so" "$MR" "$WORK/h2/mr")
	for f in "${seen[@]}"; do
		[[ -e $f ]] || { fail isolation "$f does not exist even outside"; return 1; }
	done
	local out
	on 1 sh -c 'for f; do [ -e "$f" ] && echo "can see $f"; done; [ -x ./mr ] || echo "cannot run ./mr"; [ "$(hostname)" = h1 ] || echo "hostname is $(hostname)"' sh "${seen[@]}"
	out=$("${ON[@]}" 2>&1)
	local rc=$?
	if [[ $rc != 0 || -n $out ]]; then
		fail isolation "worker host h1 (exit $rc): $(echo $out)"
		return 1
	fi
	pass isolation
}

# scene NAME: a fresh directory for a scenario on the master host; cd there.
scene() {
	killall_hosts
	mkdir -p "$M/$1" && cd "$M/$1" || exit 1
	fresh_hosts "$M/job.key"
}

# killall_hosts: end every process on every host and mend every link, so
# that one scenario's leftovers cannot touch the next.
killall_hosts() {
	local ns h
	for ns in "$ID-m" "${HOSTS[@]/#/$ID-h}"; do killns "$ns"; done
	wait 2>/dev/null
	for h in m "${HOSTS[@]}"; do ip -n "$BR" link set "v$h" up; done
}

# inputs APP: the master's input directory for APP.
inputs() {
	[[ $1 == slow ]] && echo in-slow || echo in
}

# start_master APP [FLAGS...]: the master host serves APP and its inputs in
# the background, logging to ./master.log; its PID is MPID.
start_master() {
	local app=$1
	shift
	mkdir -p out
	timeout -k 2 "$T" ip netns exec "$ID-m" "$MR" master --listen "$MASTER_ADDR" \
		--app "$APPS/$app.so" --ship-inputs --collect-output --secret-file "$M/job.key" \
		--out out "${MASTER_FLAGS[@]}" "$@" "$M/$(inputs "$app")" 2>master.log &
	MPID=$!
	PIDS+=("$MPID")
}

# start_worker N: a worker on host N, logging to ./hN.log; its PID is W[N].
declare -A W
start_worker() {
	on "$1" ./mr worker --master "$MASTER_ADDR" --secret-file ./job.key "${WORKER_FLAGS[@]}"
	"${ON[@]}" 2>"h$1.log" &
	W[$1]=$!
	PIDS+=($!)
}

# finish NAME REF: wait for the master and the workers still wanted, then
# compare sorted out/mr-out-* with REF.
finish() {
	local name=$1 ref=$2 rc h
	wait "$MPID"
	rc=$?
	if [[ $rc != 0 ]]; then
		fail "$name" "master exited $rc: $(tail -1 master.log)"
		return 1
	fi
	for h in "${!W[@]}"; do
		wait "${W[$h]}"
		rc=$?
		[[ $rc == 0 ]] || { fail "$name" "worker on h$h exited $rc: $(tail -1 "h$h.log")"; return 1; }
	done
	compgen -G "out/mr-out-*" >/dev/null || { fail "$name" "no mr-out-* files"; return 1; }
	sort out/mr-out-* >all
	cmp -s all "$ref" || { fail "$name" "output differs from mr seq ($(diff all "$ref" | head -3 | tr '\n' ' '))"; return 1; }
}

# noticed NAME N: the master's log names host N's worker or its address.
noticed() {
	grep -q "h$2-[0-9]\|$SUBNET.1$2:" master.log && return 0
	fail "$1" "the master's log never mentions h$2's worker, nor $SUBNET.1$2"
	return 1
}

# map_phase_over: the master has said so, or some worker has begun a reduce
# task (reduces start only when every map task has committed).
map_phase_over() {
	grep -qs "map phase done" master.log || cat h*.log 2>/dev/null | grep -q "reduce task .*: start"
}
# master_gone: the master has exited.
master_gone() { ! kill -0 "$MPID" 2>/dev/null; }
# ran_map N: host N has committed a map task.
ran_map() { grep -q "map task .*: done .*accepted: true" "h$1.log" 2>/dev/null; }

# victim: a worker host that has committed a map task, preferring one that
# is running a reduce; empty if none has.
victim() {
	local h v=
	for h in "${HOSTS[@]}"; do
		ran_map "$h" || continue
		[[ -z $v ]] && v=$h
		[[ $(grep ": start$\|: done \|: failed" "h$h.log" | tail -1) == *"reduce task"*start ]] && { echo "$h"; return; }
	done
	echo "$v"
}

# The master also serves its status page on its network address, which
# needs the job's secret; once the job is over (the page stays up for
# --http-grace), a worker host reads it with mr status, with the secret and
# without, and the job summary must count the inputs' lines exactly and
# show map output fetched host to host.
scenario_all_up() {
	scene all-up
	W=()
	local http=$SUBNET.1:7080
	start_master wc --nreduce 4 --http "$http" --http-grace 60s
	for h in "${HOSTS[@]}"; do start_worker "$h"; done
	local seen=0
	if ! until_ok 60 test -f out/_SUCCESS; then
		fail all-up "no out/_SUCCESS within 60 s: $(tail -1 master.log)"
	elif status_from_host all-up 1 "$http"; then
		seen=1
	fi
	kill -TERM "$MPID" 2>/dev/null # ends the grace period; the job's status stays 0
	finish all-up "$M/ref-wc" && ((seen)) || return
	local busy=0
	for h in "${HOSTS[@]}"; do grep -q "task .*: start" "h$h.log" && busy=$((busy + 1)); done
	((busy >= 2)) || { fail all-up "only $busy host ran tasks"; return; }
	local lines got
	lines=$(cat "$M"/in/* | awk 'END { print NR }')
	got=$(jq -r '"\(.counters.builtin.map_input_records) \(.counters.builtin.shuffle_bytes_fetched > 0)"' out/mr-job.json)
	[[ $got == "$lines true" ]] || { fail all-up "mr-job.json: map_input_records and fetched bytes = $got; want $lines and true"; return; }
	pass all-up
}

# status_from_host NAME N ADDR: on host N, mr status reads the master's page
# at ADDR with the job's secret, and is refused without it.
status_from_host() {
	local name=$1 n=$2 addr=$3
	on "$n" ./mr status --secret-file ./job.key "$addr"
	if ! "${ON[@]}" >"status-h$n.txt" 2>&1 || ! grep -q "^job succeeded" "status-h$n.txt"; then
		fail "$name" "mr status from h$n with the secret: $(head -1 "status-h$n.txt")"
		return 1
	fi
	on "$n" ./mr status "$addr"
	if "${ON[@]}" >"status-nosecret-h$n.txt" 2>&1 || ! grep -q "needs the job's secret" "status-nosecret-h$n.txt"; then
		fail "$name" "mr status from h$n without the secret was not refused: $(head -1 "status-nosecret-h$n.txt")"
		return 1
	fi
}

# Reduces sleep 1 ms a key, some 2.5 s in all per host, long enough to kill
# a host after the map phase and before the job ends.
scenario_host_killed() {
	scene host-killed
	W=()
	start_master slow --nreduce 6 --split-size 64KiB --param reducesleep=1ms
	for h in "${HOSTS[@]}"; do start_worker "$h"; done
	until_ok "$T" eval 'map_phase_over || master_gone'
	local v
	v=$(victim)
	if master_gone; then
		fail host-killed "the job ended before the map phase could be seen to end: $(tail -1 master.log)"
		return
	elif [[ -z $v ]]; then
		fail host-killed "no worker host has committed a map task"
		return
	fi
	disown "${W[$v]}" # no "Killed" notice from this shell
	killns "$ID-h$v"
	local killed_at=$SECONDS
	master_gone && { fail host-killed "the job was over before h$v was killed; make reduces slower"; return; }
	echo "  host-killed: killed every process on h$v ($SUBNET.1$v) after the map phase"
	unset "W[$v]"
	finish host-killed "$M/ref-slow" || return
	noticed host-killed "$v" || return
	echo "  host-killed: the job finished $((SECONDS - killed_at)) s after the kill"
	pass host-killed
}

# The victim's link is cut at the bridge as soon as it has committed a map
# task, usually with the map phase still running (on a loaded machine, in
# the reduce phase): the master and the other hosts hear nothing more from
# it, not even resets.
scenario_link_cut() {
	scene link-cut
	W=()
	start_master slow --nreduce 6 --split-size 64KiB --param sleep=400ms --param reducesleep=1ms
	for h in "${HOSTS[@]}"; do start_worker "$h"; done
	until_ok "$T" eval '[[ -n $(victim) ]] || master_gone'
	local v
	v=$(victim)
	if master_gone || [[ -z $v ]]; then
		fail link-cut "no worker host committed a map task before the job ended: $(tail -1 master.log)"
		return
	fi
	ip -n "$BR" link set "v$v" down
	local cut_at=$SECONDS phase=map
	map_phase_over && phase=reduce
	master_gone && { fail link-cut "the job was over before h$v was cut off"; return; }
	reaches "$v" && { fail link-cut "h$v still reaches the master after its link went down"; return; }
	echo "  link-cut: cut h$v ($SUBNET.1$v) off in the $phase phase"
	local cutoff=${W[$v]}
	unset "W[$v]" # killall_hosts ends it if it has not given up by itself
	finish link-cut "$M/ref-slow" || return
	noticed link-cut "$v" || return
	echo "  link-cut: the job finished $((SECONDS - cut_at)) s after the cut"
	if kill -0 "$cutoff" 2>/dev/null; then
		echo "  link-cut: h$v's worker is still running"
	else
		echo "  link-cut: h$v's worker gave up: $(tail -1 "h$v.log")"
	fi
	pass link-cut
}

# The worker on h3 holds another secret under the same name. It must exit
# non-zero, at once, saying the master refused its secret; the master must
# log the refusal, and the job must go on with the other two.
scenario_wrong_secret() {
	scene wrong-secret
	W=()
	cp "$M/wrong.key" "$WORK/h3/job.key"
	# Map tasks that take a moment, so that both good workers join before
	# the job ends, even one whose link was cut in the last scenario.
	start_master slow --nreduce 4 --split-size 64KiB --param sleep=300ms
	on 3 ./mr worker --master "$MASTER_ADDR" --secret-file ./job.key --connect-timeout 20s
	"${ON[@]}" 2>h3.log
	local rc=$?
	if [[ $rc == 0 ]]; then
		fail wrong-secret "the worker with the wrong secret exited 0"
	elif [[ $rc == 124 || $rc == 137 ]]; then
		fail wrong-secret "the worker with the wrong secret hung"
	elif ! grep -q "refused this worker's secret" h3.log; then
		fail wrong-secret "the worker's message does not say its secret was refused: $(head -3 h3.log)"
	elif grep -q "goroutine \|panic(" h3.log; then
		fail wrong-secret "the worker printed a stack trace"
	elif ! until_ok 5 grep -q "refused a connection from $SUBNET.13" master.log; then
		fail wrong-secret "the master did not log refusing $SUBNET.13: $(tail -1 master.log)"
	else
		start_worker 1
		start_worker 2
		finish wrong-secret "$M/ref-slow" && pass wrong-secret
	fi
}

# The store serves the master host's directory at $SUBNET.1:9000; the
# master and every worker are given its endpoint and credentials, and
# read and write through it only.
scenario_s3() {
	if ! vgw_build; then
		echo "SKIP s3 ($VGW_WHY)"
		return
	fi
	scene s3
	W=()
	local store=$M/s3/store endpoint=http://$SUBNET.1:9000 h
	rm -rf "$store" && mkdir -p "$store/gomr/in" && cp "$M"/in/* "$store/gomr/in/" || exit 1
	vgw_start "$store" "$SUBNET.1:9000" ip netns exec "$ID-m" || { fail s3 "versitygw did not start on the master host"; return; }
	PIDS+=("$VGW_PID")
	local creds=(AWS_ACCESS_KEY_ID="$S3_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET" AWS_REGION=us-east-1)
	timeout -k 2 "$T" ip netns exec "$ID-m" env "${creds[@]}" XDG_CACHE_HOME="$M/s3/cache" "$MR" master \
		--listen "$MASTER_ADDR" --app "$APPS/wc.so" --secret-file "$M/job.key" --nreduce 4 \
		--s3-endpoint "$endpoint" --out s3://gomr/out "${MASTER_FLAGS[@]}" s3://gomr/in 2>master.log &
	MPID=$!
	PIDS+=("$MPID")
	for h in "${HOSTS[@]}"; do
		on "$h" env "${creds[@]}" ./mr worker --master "$MASTER_ADDR" --secret-file ./job.key \
			--s3-endpoint "$endpoint" "${WORKER_FLAGS[@]}"
		"${ON[@]}" 2>"h$h.log" &
		W[$h]=$!
		PIDS+=($!)
	done
	wait "$MPID" || { fail s3 "master exited $?: $(tail -1 master.log)"; return; }
	for h in "${!W[@]}"; do
		wait "${W[$h]}" || { fail s3 "worker on h$h exited $?: $(tail -1 "h$h.log")"; return; }
	done
	local want got
	want=$(printf '%s\n' _SUCCESS mr-job.json mr-out-0 mr-out-1 mr-out-2 mr-out-3 | LC_ALL=C sort)
	got=$(cd "$store/gomr/out" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort)
	[[ $got == "$want" ]] || { fail s3 "s3://gomr/out holds: $(echo $got)"; return; }
	sort "$store"/gomr/out/mr-out-* >all
	cmp -s all "$M/ref-wc" || { fail s3 "output differs from mr seq ($(diff all "$M/ref-wc" | head -3 | tr '\n' ' '))"; return; }
	local busy=0
	for h in "${HOSTS[@]}"; do grep -q "task .*: start" "h$h.log" && busy=$((busy + 1)); done
	((busy >= 2)) || { fail s3 "only $busy host ran tasks"; return; }
	grep -q "ReadSplit\|PutOutput" master.log && { fail s3 "data went through the master"; return; }
	pass s3
}

start=$SECONDS
setup
if check_isolation; then
	for s in "${want[@]}"; do
		"scenario_${s//-/_}"
		cd "$WORK" || exit 1
	done
fi
echo "netns-cluster: $passed passed, $failed failed in $((SECONDS - start)) s"
((failed == 0))
