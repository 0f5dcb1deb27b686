#!/usr/bin/env bash
# scripts/slurm-job.sh on a real Slurm cluster built on this machine from
# Debian's slurm-wlm and munge: slurmctld and munged in one network
# namespace (the controller host), and a slurmd in each of three more, each
# with its own hostname (a UTS namespace) and address, so that Slurm sees
# three nodes, slurm1 to slurm3. A bridge in a namespace of its own joins
# them on a private /24; nothing is added to the root namespace's network.
# The nodes share this machine's filesystem, as a cluster with a shared
# filesystem does. Every config, state, spool and log file is under a
# temporary work directory, and munged's socket is there too.
#
# Jobs are submitted with sbatch from the controller host and awaited by
# polling scontrol with a deadline. Scenarios, those that run a job
# checked against `mr seq` of the same app over the same inputs, sorted:
#   usage      slurm-job.sh outside Slurm, or without --app or --out, says
#              so in one line and exits 2
#   bad-input  a job whose input does not exist fails at once, status 1,
#              its output saying why in one line
#   no-workers workers that cannot start: the script stops the master
#              waiting for them and fails, saying so
#   shared     sbatch -N 3 -c 2 scripts/slurm-job.sh from the checkout,
#              without MR, so the script finds bin/mr itself; workers read
#              the inputs and write --out themselves; every node runs a
#              worker with two slots, the job exits 0 and removes its
#              secret
#   ship       --ship-inputs --collect-output, with slow map tasks: map
#              output kept in MR_WORKDIR on each node and fetched node to
#              node; no mr-worker-* directory is left
#   node-lost  the job of ship; once a node other than the
#              batch host has committed a map task, its slurmd, its
#              worker and every other process on it are SIGKILLed: the
#              job still finishes, exactly (the node is then started
#              again)
#   node-down  the job of ship; Slurm sets a node DOWN mid-job (scontrol
#              update State=DOWN) and kills the job's processes there: the
#              job goes on without it and finishes exactly
#   scancel    scancel mid-job: no process of the job is left on any node,
#              and no scratch directory under --out or MR_WORKDIR
#
# Each scenario prints PASS or FAIL; the script exits non-zero if any
# failed. Every process runs under `timeout`, every wait polls with a
# deadline, and everything made (processes, namespaces, veths, the work
# directory) is removed on exit, Ctrl-C included. Without root, the Slurm
# and munge daemons, ip or unshare it prints "test-slurm: SKIP (why)" and
# exits 0; it never installs anything (.ci/run does).
#
# Usage: scripts/test-slurm.sh [SCENARIO...]   (default: all)
# Environment: T (seconds a job may take, default 60), SUBNET (first three
# octets, default 10.231.9: not netns-cluster.sh's), KEEP=1 (keep the work
# directory and its logs).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=test-slurm
source "$ROOT/scripts/lib/netns.sh"
MR=$ROOT/bin/mr
APPS=$ROOT/bin/apps
JOB=$ROOT/scripts/slurm-job.sh
T=${T:-60}
SUBNET=${SUBNET:-10.231.9}
NODES=(1 2 3)
# The daemons live as long as the whole test may.
TALL=$((6 * T + 60))

ALL=(usage bad-input no-workers shared ship node-lost node-down scancel)
want=("$@")
((${#want[@]})) || want=("${ALL[@]}")
for s in "${want[@]}"; do
	[[ " ${ALL[*]} " == *" $s "* ]] || { echo "test-slurm: no scenario $s; have: ${ALL[*]}" >&2; exit 2; }
done

skip() {
	echo "test-slurm: SKIP ($1)"
	exit 0
}
((EUID == 0)) || skip "needs root for network namespaces and the Slurm daemons"
for c in ip unshare timeout; do
	command -v "$c" >/dev/null || skip "no $c command"
done
for c in slurmctld slurmd sbatch srun scontrol scancel sinfo; do
	command -v "$c" >/dev/null || skip "no $c: apt-get install slurm-wlm"
done
for c in munged mungekey; do
	command -v "$c" >/dev/null || skip "no $c: apt-get install munge"
done
for f in "$MR" "$APPS/wc.so" "$APPS/slow.so"; do
	[[ -f $f ]] || { echo "test-slurm: $f is missing; run 'make build apps' first" >&2; exit 1; }
done
INPUTS=("$ROOT"/testdata/text-*.txt)
[[ -f ${INPUTS[0]} ]] || { echo "test-slurm: no testdata/text-*.txt inputs" >&2; exit 1; }

# Names carry this shell's PID, so that runs never collide and a run killed
# with SIGKILL can be recognised and swept by the next one.
ID=slurm$$
BR=$ID-br
CTL=$ID-c
NSES=("$BR" "$CTL")
for n in "${NODES[@]}"; do NSES+=("$ID-n$n"); done

WORK=
PIDS=()

cleanup() {
	local ns p
	disown -a
	# Nodes first, so that no slurmd asks the controller about its jobs.
	for ((p = ${#NSES[@]} - 1; p >= 0; p--)); do
		ns=${NSES[p]}
		ip netns list | grep -q "^$ns\b" && killns "$ns"
	done
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in "${NSES[@]}"; do
		ip netns list | grep -q "^$ns\b" && ip netns delete "$ns"
	done
	local left
	left=$(ip netns list | grep "^$ID-")
	[[ -z $left ]] || echo "test-slurm: could not delete namespaces: $left" >&2
	if [[ -n $WORK ]]; then
		[[ -n ${KEEP:-} ]] && echo "test-slurm: kept $WORK" || rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sweep namespaces left by runs of this script that were killed too hard to
# clean up after themselves.
for ns in $(ip netns list 2>/dev/null | awk '/^slurm[0-9]+-/ {print $1}'); do
	pid=${ns#slurm}
	pid=${pid%%-*}
	kill -0 "$pid" 2>/dev/null && continue
	echo "test-slurm: removing $ns, left by an earlier run" >&2
	killns "$ns"
	ip netns delete "$ns"
done

ip netns add "$BR" 2>/dev/null || skip "ip netns add fails here: $(ip netns add "$BR" 2>&1)"

# net_up: the bridge, and a namespace per host with a veth to it: eth0 in
# the host, vc (controller) or vN (node N) in the bridge's namespace.
net_up() {
	bridge_up "$BR" || return 1
	local h ns addr
	for h in c "${NODES[@]}"; do
		ns=$ID-n$h addr=$SUBNET.1$h
		[[ $h == c ]] && ns=$CTL addr=$SUBNET.1
		host_up "$BR" "$ns" "$addr" "v$h" || return 1
	done
}

# slurm_conf: the cluster's configuration, private paths and ports. Node
# names are the nodes' UTS hostnames, which is how each slurmd finds its
# own entry. SlurmdTimeout is short, so that a killed node is declared
# down, and the job it was in can complete, within the test's time.
slurm_conf() {
	local n cg=cgroup/v1
	# cgroup/v1 on a hybrid or v1 host, as here; cgroup/v2 on a pure v2 one.
	[[ $(stat -fc %T /sys/fs/cgroup 2>/dev/null) == cgroup2fs ]] && cg=cgroup/v2
	cat <<EOF
ClusterName=mrtest
SlurmctldHost=slurmctl($SUBNET.1)
SlurmctldPort=16917
SlurmdPort=16918
SrunPortRange=60001-60100
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge/sock
StateSaveLocation=$WORK/ctld
SlurmctldPidFile=$WORK/ctld/slurmctld.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdSpoolDir=$WORK/spool/%n
SlurmdPidFile=$WORK/spool/slurmd-%n.pid
SlurmdLogFile=$WORK/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
SlurmdTimeout=5
SlurmctldTimeout=10
MessageTimeout=5
KillWait=10
MinJobAge=600
InactiveLimit=0
EOF
	for n in "${NODES[@]}"; do
		echo "NodeName=slurm$n NodeAddr=$SUBNET.1$n CPUs=2 State=UNKNOWN"
	done
	echo "PartitionName=mr Nodes=slurm[1-${#NODES[@]}] Default=YES MaxTime=10 State=UP"
	printf 'CgroupPlugin=%s\nIgnoreSystemd=yes\n' "$cg" >"$WORK/etc/cgroup.conf"
}

# ctl CMD...: run a Slurm client command on the controller host.
ctl() { timeout -k 2 20 ip netns exec "$CTL" "$@"; }

# nodes: each node's state, on one line.
nodes() { ctl scontrol -o show node 2>/dev/null | grep -o 'NodeName=[^ ]*\|State=[^ ]*' | paste -sd ' '; }

# start_slurmd N: node N's slurmd, in its namespace, as host slurmN; the
# PID of its timeout is SLURMD[N].
declare -A SLURMD
start_slurmd() {
	mkdir -p "$WORK/spool/slurm$1" || exit 1
	timeout -k 2 "$TALL" ip netns exec "$ID-n$1" unshare --uts \
		sh -c 'hostname "$1" && exec slurmd -D -f "$SLURM_CONF"' sh "slurm$1" 2>>"$WORK/log/slurmd$1.err" &
	SLURMD[$1]=$!
	PIDS+=($!)
}

# idle N...: each of the nodes is up and has nothing allocated. (sinfo
# says "mixed" for some seconds after a job ends; scontrol does not.)
idle() {
	local n
	for n; do
		[[ $(ctl scontrol -o show node "slurm$n" 2>/dev/null) == *" State=IDLE "* ]] || return 1
	done
}

# setup: the work directory, the network, munged, slurmctld, the slurmds,
# the references.
setup() {
	WORK=$(mktemp -d /tmp/test-slurm.XXXXXX) || exit 1
	chmod 755 "$WORK"
	mkdir -p "$WORK"/{etc,ctld,log,spool,munge,jobs} && chmod 700 "$WORK/ctld" || exit 1
	export SLURM_CONF=$WORK/etc/slurm.conf
	slurm_conf >"$SLURM_CONF" || exit 1
	net_up || { echo "test-slurm: could not build the network" >&2; exit 1; }
	timeout -k 2 20 mungekey --create --keyfile="$WORK/munge/munge.key" >/dev/null 2>&1 &&
		chmod 400 "$WORK/munge/munge.key" || { echo "test-slurm: mungekey failed" >&2; exit 1; }
	timeout -k 2 "$TALL" ip netns exec "$CTL" munged -F --force --socket="$WORK/munge/sock" \
		--key-file="$WORK/munge/munge.key" --pid-file="$WORK/munge/pid" \
		--seed-file="$WORK/munge/seed" 2>"$WORK/log/munged.log" &
	PIDS+=($!)
	until_ok 10 test -S "$WORK/munge/sock" || { echo "test-slurm: munged did not start: $(tail -1 "$WORK/log/munged.log")" >&2; exit 1; }
	timeout -k 2 "$TALL" ip netns exec "$CTL" unshare --uts \
		sh -c 'hostname slurmctl && exec slurmctld -D -i -f "$SLURM_CONF"' 2>"$WORK/log/slurmctld.err" &
	PIDS+=($!)
	until_ok 20 ctl sinfo -h >/dev/null 2>&1 || { echo "test-slurm: slurmctld did not start: $(tail -1 "$WORK/log/slurmctld.err")" >&2; exit 1; }
	local n
	for n in "${NODES[@]}"; do start_slurmd "$n"; done
	until_ok 30 idle "${NODES[@]}" || {
		echo "test-slurm: the nodes are not idle: $(nodes)" >&2
		for n in "${NODES[@]}"; do tail -2 "$WORK/log/slurmd$n.err" >&2; done
		exit 1
	}
	mkdir -p "$WORK/in"
	cp "${INPUTS[@]}" "$WORK/in/" || exit 1
	local app
	for app in wc slow; do
		mkdir -p "$WORK/seq-$app"
		timeout -k 2 "$T" "$MR" seq --out "$WORK/seq-$app" "$APPS/$app.so" "$WORK/in" >/dev/null 2>&1 ||
			{ echo "test-slurm: mr seq $app failed" >&2; exit 1; }
		sort "$WORK/seq-$app/mr-out-0" >"$WORK/ref-$app"
	done
}

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }

# scene NAME: every node up and idle, and a fresh directory for the job;
# cd there. D is its path.
scene() {
	local n
	for n in "${NODES[@]}"; do
		[[ -n $(ip netns pids "$ID-n$n") ]] || start_slurmd "$n"
	done
	until_ok 30 idle "${NODES[@]}" || { fail "$1" "nodes not idle: $(nodes)"; return 1; }
	D=$WORK/jobs/$1
	mkdir -p "$D/scratch" && cd "$D" || exit 1
}

# submit NAME [sbatch options] -- [slurm-job.sh arguments]: submit the job
# to run in D; its ID is JID. With FIND_MR set, it is submitted from the
# checkout as scripts/slurm-job.sh, without MR: the script must find
# bin/mr by itself.
submit() {
	local name=$1 opts=() mr=$MR job=$JOB
	shift
	while [[ $1 != -- ]]; do opts+=("$1"); shift; done
	shift
	[[ -n ${FIND_MR:-} ]] && mr= job=scripts/slurm-job.sh
	JID=$(cd "$ROOT" && MR=$mr MR_WORKDIR=$D/scratch MR_STOP_GRACE=5 MR_CONNECT_TIMEOUT=10s \
		ctl sbatch --parsable -N 3 -t 5 --chdir "$D" -o "$D/slurm-%j.out" "${opts[@]}" "$job" "$@" 2>"$D/sbatch.err")
	[[ $JID =~ ^[0-9]+ ]] || { fail "$name" "sbatch failed: $(head -1 "$D/sbatch.err")"; return 1; }
	JID=${JID%%;*}
	LOGS=$D/mr-logs-$JID
}

# state: the job's state and exit code, as "STATE rc:signal".
state() {
	local s
	s=$(ctl scontrol -o show job "$JID" 2>/dev/null)
	[[ $s =~ JobState=([A-Z_]+) ]] && echo -n "${BASH_REMATCH[1]} "
	[[ $s =~ ExitCode=([0-9:]+) ]] && echo "${BASH_REMATCH[1]}"
}
# ended: the job is over, completing included.
ended() {
	local s
	s=$(state)
	[[ -n $s && $s != PENDING* && $s != RUNNING* && $s != CONFIGURING* && $s != COMPLETING* ]]
}

# finish NAME REF: wait for the job; it must have completed with status 0
# and sorted out/mr-out-* must equal REF.
finish() {
	local name=$1 ref=$2
	if ! until_ok "$T" ended; then
		fail "$name" "job $JID not over within $T s: $(state); $(tail -1 "$LOGS/master.log" 2>/dev/null)"
		ctl scancel "$JID"
		return 1
	fi
	local st
	st=$(state)
	[[ $st == "COMPLETED 0:0" ]] || { fail "$name" "job $JID: $st; $(tail -2 slurm-"$JID".out | tr '\n' ' ')"; return 1; }
	compgen -G "out/mr-out-*" >/dev/null || { fail "$name" "no mr-out-* files"; return 1; }
	sort out/mr-out-* >all
	cmp -s all "$ref" || { fail "$name" "output differs from mr seq ($(diff all "$ref" | head -3 | tr '\n' ' '))"; return 1; }
	[[ ! -e $LOGS/job.key ]] || { fail "$name" "the job's secret $LOGS/job.key is still there"; return 1; }
}

# on_every_node NAME: workers.log shows a worker on each node.
on_every_node() {
	local n
	for n in "${NODES[@]}"; do
		grep -q "^[0-9]*: worker [0-9]* on slurm$n " "$LOGS/workers.log" ||
			{ fail "$1" "no worker on slurm$n in workers.log"; return 1; }
	done
}

# no_scratch NAME: no scratch directory left under out/ or MR_WORKDIR.
no_scratch() {
	local left
	left=$(ls -d out/.mr-* scratch/mr-worker-* 2>/dev/null | tr '\n' ' ')
	[[ -z $left ]] || { fail "$1" "scratch left: $left"; return 1; }
}

# took: how long the master says the job took.
took() { sed -n 's/.* done: .* in \([0-9.]*[a-z]*\); output in .*/took \1/p' "$LOGS/master.log"; }

# The job of ship and node-lost, the same so that their times compare:
# some 30 map tasks of 300 ms or more each.
slow_job() {
	SLOW_JOB=(--app "$APPS/slow.so" --out out --ship-inputs --collect-output
		--nreduce 4 --split-size 64KiB --param sleep=300ms --worker-timeout 3s "$WORK/in")
}

scenario_shared() {
	scene shared || return
	local t0=$SECONDS
	FIND_MR=1 submit shared -c 2 -- --app "$APPS/wc.so" --out out --nreduce 4 --worker-timeout 3s "$WORK/in" || return
	finish shared "$WORK/ref-wc" && on_every_node shared && no_scratch shared || return
	grep -q "workers with 2 slots" "slurm-$JID.out" || { fail shared "not 2 slots a worker with -c 2: $(head -1 "slurm-$JID.out")"; return; }
	echo "  shared: job $JID took $((SECONDS - t0)) s, submit to completion; the master $(took)"
	pass shared
}

scenario_ship() {
	scene ship || return
	local t0=$SECONDS
	submit ship -- "${SLOW_JOB[@]}" || return
	finish ship "$WORK/ref-slow" && on_every_node ship && no_scratch ship || return
	grep -q "workers with 1 slots" "slurm-$JID.out" || { fail ship "not 1 slot a worker: $(head -1 "slurm-$JID.out")"; return; }
	local fetched
	fetched=$(grep -o '"shuffle_bytes_fetched": [0-9]*' out/mr-job.json | grep -o '[0-9]*$')
	((${fetched:-0} > 0)) || { fail ship "no map output was fetched node to node (shuffle_bytes_fetched ${fetched:-missing})"; return; }
	echo "  ship: job $JID took $((SECONDS - t0)) s, submit to completion; the master $(took); $fetched bytes of map output fetched node to node"
	pass ship
}

# An input that does not exist: the master does not start, and the job
# fails at once with the master's one-line reason and status 1.
scenario_bad_input() {
	scene bad-input || return
	submit bad-input -- --app "$APPS/wc.so" --out out "$WORK/no-such-input" || return
	until_ok "$T" ended || { fail bad-input "job $JID still $(state) after $T s"; return; }
	local st
	st=$(state)
	[[ $st == "FAILED 1:0" ]] || { fail bad-input "job $JID: $st, want FAILED 1:0"; return; }
	grep -q "^slurm-job: the master did not start (exit 1): mr master: .*no-such-input" "slurm-$JID.out" ||
		{ fail bad-input "the job's output does not say why: $(tail -1 "slurm-$JID.out")"; return; }
	grep -q "goroutine \|panic(" "slurm-$JID.out" "$LOGS/master.log" && { fail bad-input "a stack trace"; return; }
	[[ -z $(job_procs) && ! -e $LOGS/job.key ]] || { fail bad-input "left processes or the secret behind"; return; }
	pass bad-input
}

# Workers that cannot start (here, a flag they do not know): once srun has
# ended and the master is still waiting for workers, the script stops it
# and fails, saying so.
scenario_no_workers() {
	scene no-workers || return
	MR_WORKER_FLAGS=--no-such-flag submit no-workers -- --app "$APPS/wc.so" --out out "$WORK/in" || return
	until_ok "$T" ended || { fail no-workers "job $JID still $(state) after $T s"; return; }
	local st
	st=$(state)
	[[ $st == "FAILED 1:0" ]] || { fail no-workers "job $JID: $st, want FAILED 1:0"; return; }
	grep -q "^slurm-job: every worker exited" "slurm-$JID.out" ||
		{ fail no-workers "the job's output does not say why: $(tail -1 "slurm-$JID.out")"; return; }
	grep -q "no-such-flag" "$LOGS/workers.log" || { fail no-workers "workers.log does not say why"; return; }
	[[ ! -e out/_SUCCESS ]] || { fail no-workers "out/_SUCCESS exists"; return; }
	[[ -z $(job_procs) && ! -e $LOGS/job.key ]] || { fail no-workers "left processes or the secret behind"; return; }
	no_scratch no-workers || return
	pass no-workers
}

# node_of TASK: the node that srun task TASK runs on, from workers.log.
node_of() {
	sed -n "s/^$1: worker $1 on slurm\([0-9]*\) .*/\1/p" "$LOGS/workers.log" 2>/dev/null | head -1
}

# victim: a node, not the batch host, whose worker has committed a map
# task; empty if none has.
victim() {
	local t n batch
	batch=$(node_of 0)
	for t in $(grep -o "^[0-9]*: mr worker: .* map task .*: done .*accepted: true" "$LOGS/workers.log" 2>/dev/null | cut -d: -f1 | sort -u); do
		n=$(node_of "$t")
		[[ -n $n && $n != "$batch" ]] && { echo "$n"; return; }
	done
}
job_over() { grep -qs " done: " "$LOGS/master.log" || ended; }

scenario_node_lost() {
	scene node-lost || return
	local t0=$SECONDS
	submit node-lost -- "${SLOW_JOB[@]}" || return
	until_ok "$T" eval '[[ -n $(victim) ]] || job_over'
	local v
	v=$(victim)
	if [[ -z $v ]]; then
		fail node-lost "no node but the batch host committed a map task before the job ended: $(state)"
		return
	fi
	disown "${SLURMD[$v]}" # no "Killed" notice from this shell
	killns "$ID-n$v"
	local killed_at=$SECONDS
	job_over && { fail node-lost "the job was over before slurm$v was killed; make the maps slower"; return; }
	echo "  node-lost: SIGKILLed slurmd and every process on slurm$v, $((killed_at - t0)) s after submitting"
	until_ok "$T" test -f out/_SUCCESS
	local success_at=$SECONDS
	finish node-lost "$WORK/ref-slow" || return
	grep -q "slurm$v-[0-9]" "$LOGS/master.log" ||
		{ fail node-lost "the master's log never mentions slurm$v's worker"; return; }
	echo "  node-lost: output complete $((success_at - killed_at)) s after the kill, the master $(took); job $JID $(state) $((SECONDS - killed_at)) s after the kill ($((SECONDS - t0)) s in all: Slurm must declare slurm$v down)"
	pass node-lost
}

# Slurm itself takes a node away mid-job: scontrol sets it DOWN, and
# slurmctld kills the job's processes there. With --no-kill the job goes
# on without it, and finishes exactly; the node is then resumed.
scenario_node_down() {
	scene node-down || return
	local t0=$SECONDS
	submit node-down -- "${SLOW_JOB[@]}" || return
	until_ok "$T" eval '[[ -n $(victim) ]] || job_over'
	local v
	v=$(victim)
	if [[ -z $v ]]; then
		fail node-down "no node but the batch host committed a map task before the job ended: $(state)"
		return
	fi
	ctl scontrol update NodeName="slurm$v" State=DOWN Reason=mr-test ||
		{ fail node-down "scontrol could not set slurm$v down"; return; }
	local down_at=$SECONDS
	job_over && { fail node-down "the job was over before slurm$v went down; make the maps slower"; return; }
	echo "  node-down: set slurm$v DOWN $((down_at - t0)) s after submitting"
	until_ok "$T" test -f out/_SUCCESS
	local success_at=$SECONDS
	finish node-down "$WORK/ref-slow" || return
	local left
	left=$(job_procs | grep "^slurm$v:")
	[[ -z $left ]] || { fail node-down "job processes still on slurm$v: $left"; return; }
	# (With ReturnToService=2 it may be back already, its slurmd alive.)
	ctl scontrol update NodeName="slurm$v" State=RESUME >/dev/null 2>&1
	echo "  node-down: output complete $((success_at - down_at)) s after, the master $(took); job $JID $(state) $((SECONDS - down_at)) s after"
	pass node-down
}

# job_procs: processes of jobs on the nodes: all but the slurmds.
job_procs() {
	local n p
	for n in "${NODES[@]}"; do
		for p in $(ip netns pids "$ID-n$n" 2>/dev/null); do
			[[ $(cat "/proc/$p/comm" 2>/dev/null) == slurmd ]] || echo "slurm$n:$p:$(cat "/proc/$p/comm" 2>/dev/null)"
		done
	done
}

scenario_scancel() {
	scene scancel || return
	submit scancel -- --app "$APPS/slow.so" --out out --ship-inputs --collect-output \
		--nreduce 4 --split-size 64KiB --param sleep=1s --worker-timeout 3s "$WORK/in" || return
	# Mid-job: a map task committed, and map output in a worker's scratch
	# directory.
	if ! until_ok "$T" eval 'grep -qs "accepted: true" "$LOGS/workers.log" || job_over'; then
		fail scancel "no map task committed within $T s: $(state)"
		return
	fi
	job_over && { fail scancel "the job was over before scancel; make the maps slower"; return; }
	compgen -G "scratch/mr-worker-*" >/dev/null || { fail scancel "no mr-worker-* directory in MR_WORKDIR mid-job"; return; }
	compgen -G "out/.mr-*" >/dev/null || { fail scancel "no .mr-* directory under --out mid-job"; return; }
	local t0=$SECONDS
	ctl scancel "$JID" || { fail scancel "scancel $JID failed"; return; }
	until_ok "$T" ended || { fail scancel "job $JID still $(state) $T s after scancel"; return; }
	if ! until_ok 15 eval '[[ -z $(job_procs) ]]'; then
		fail scancel "processes left after scancel: $(job_procs | tr '\n' ' ')"
		return
	fi
	local st
	st=$(state)
	[[ $st == CANCELLED* ]] || { fail scancel "job $JID: $st, want CANCELLED"; return; }
	no_scratch scancel || return
	[[ ! -e $LOGS/job.key ]] || { fail scancel "the job's secret is still there"; return; }
	echo "  scancel: job $JID cancelled and every process gone $((SECONDS - t0)) s after scancel"
	pass scancel
}

# Mistakes get one line and exit status 2, before anything starts: outside
# Slurm, and without --app or --out, or with a flag the script sets.
scenario_usage() {
	local out rc
	while IFS='|' read -r env args want; do
		# shellcheck disable=SC2086 # word splitting wanted
		out=$(cd "$WORK" && env -u SLURM_JOB_ID $env timeout -k 2 10 "$JOB" $args 2>&1)
		rc=$?
		if [[ $rc != 2 || $(wc -l <<<"$out") != 1 || $out != *"$want"* ]]; then
			fail usage "slurm-job.sh $args ($env): exit $rc, said: $out; want exit 2 and one line with: $want"
			return
		fi
	done <<EOF
|--app $APPS/wc.so --out out in|not running under Slurm
SLURM_JOB_ID=1|--out out in|missing --app
SLURM_JOB_ID=1|--app $APPS/wc.so in|missing --out
SLURM_JOB_ID=1|--app $WORK/none.so --out out in|no such file
SLURM_JOB_ID=1|--app $APPS/wc.so --out out --listen :7070 in|--listen is set by this script
EOF
	pass usage
}

start=$SECONDS
setup
slow_job
echo "test-slurm: $(slurmctld -V) cluster up in $((SECONDS - start)) s: $(ctl sinfo -h -o '%D nodes %T')"
for s in "${want[@]}"; do
	"scenario_${s//-/_}"
	cd "$WORK" || exit 1
done
echo "test-slurm: $passed passed, $failed failed in $((SECONDS - start)) s"
((failed == 0))
