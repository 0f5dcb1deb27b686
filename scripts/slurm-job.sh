#!/usr/bin/env bash
#SBATCH --job-name=mr
#SBATCH --no-kill
# A MapReduce job as a Slurm batch job: the master on the batch host, one
# worker per task of the allocation, started with srun.
#
#   sbatch -N 4 [-c CPUS] scripts/slurm-job.sh --app bin/apps/wc.so --out /shared/out [MASTER FLAGS...] INPUTS...
#
# Every argument goes to `mr master` (see `mr master --help`); --app and
# --out are required, and --listen and --secret-file are this script's to
# set. The script
#   - makes a fresh secret for the job, job.key (mode 0600) in the log
#     directory, removed when the job ends;
#   - starts `mr master --listen ADDR:PORT --secret-file ... --app ...` on
#     the batch host, ADDR being its NodeAddr in Slurm (any free port unless
#     MR_PORT is set);
#   - starts one `mr worker` per task with srun, --slots from
#     SLURM_CPUS_PER_TASK (1 without -c), pointed at the master; workers
#     fetch the app from the master, so only bin/mr must be on every node;
#   - once the master exits, gives the workers MR_STOP_GRACE seconds to
#     exit by themselves (told by the master that the job is over), then
#     stops them;
#   - exits with the master's status.
#
# Filesystems. With a shared filesystem (the usual HPC set-up) give paths
# every node sees: workers read the inputs and write --out themselves, and
# keep map output in the master's job directory under --out. Without one,
# add --ship-inputs --collect-output: workers read their splits through the
# master and send their output back to it, and keep their map output in
# MR_WORKDIR on their own node (default $TMPDIR, else /tmp), serving it to
# the other workers; --out is written on the batch host only.
#
# Logs go to a directory next to the job's output (the batch script's
# working directory): MR_LOGS, default mr-logs-JOBID. It holds master.log,
# and workers.log, every worker's lines prefixed with its task number
# (srun --label), the first saying which node it runs on. The job's own
# output (slurm-JOBID.out) says where they are and how the job ended.
#
# Failures. The job is submitted with --no-kill and the workers' step with
# srun --no-kill --kill-on-bad-exit=0: a node that dies or a worker that
# exits is a dead worker, whose tasks the master runs elsewhere (set
# --worker-timeout to how soon it should notice). If every worker is gone
# while the master still runs (for MR_STOP_GRACE seconds, 10 at least), the
# script stops the master and fails. The batch host is the master's: if it
# dies, the job is lost.
#
# scancel sends SIGTERM to every process of the job: the master, which
# removes its scratch directory under --out, the workers, which remove
# theirs, and this script, which removes job.key.
#
# Environment: MR (bin/mr; default: the bin/mr of the checkout holding this
# script, else of the submit directory, else mr on PATH; it must be at the
# same path on every node), MR_PORT, MR_LOGS, MR_WORKDIR, MR_SLOTS
# (default SLURM_CPUS_PER_TASK), MR_WORKER_FLAGS (the workers' flags,
# default -v: log every task), MR_CONNECT_TIMEOUT (default 60s: how long a
# worker waits for an unreachable master), MR_STOP_GRACE (default 30),
# MR_MASTER_HOST (the address workers reach the master at, when the batch
# host's NodeAddr is not it).
set -u

say() { echo "slurm-job: $*"; }
die() {
	echo "slurm-job: $*" >&2
	exit 2
}

usage="usage: sbatch -N NODES [-c CPUS] $0 --app APP.so --out DIR [MASTER FLAGS...] INPUTS..."
case ${1:-} in -h | --help)
	echo "$usage"
	echo "Every argument goes to 'mr master'; see the comment at the top of this script."
	exit 0
	;;
esac
[[ -n ${SLURM_JOB_ID:-} ]] || die "not running under Slurm (no SLURM_JOB_ID); $usage"

# The master's arguments: find --app and --out, and the filesystem mode.
app= out= ship=0 collect=0
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	a=${args[i]} next=${args[i + 1]:-}
	case $a in
	--) break ;;
	--app) app=$next ;;
	--app=*) app=${a#--app=} ;;
	--out) out=$next ;;
	--out=*) out=${a#--out=} ;;
	--ship-inputs | --ship-inputs=true) ship=1 ;;
	--collect-output | --collect-output=true) collect=1 ;;
	--listen | --listen=* | --secret-file | --secret-file=*)
		die "${a%%=*} is set by this script; leave it out" ;;
	esac
done
[[ -n $app ]] || die "missing --app APP.so (workers fetch it from the master); $usage"
[[ -n $out ]] || die "missing --out DIR; $usage"
[[ -f $app ]] || die "--app $app: no such file (in $PWD)"
((ship == collect)) || say "warning: only one of --ship-inputs and --collect-output; workers then need a shared filesystem anyway"

# bin/mr. sbatch runs a copy of this script, so where it was submitted from
# comes from Slurm: the job's Command, then the submit directory.
job=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null)
cmdpath=$(grep -o 'Command=[^ ]*' <<<"$job" | head -1)
cmdpath=${cmdpath#Command=}
[[ -n $cmdpath && $cmdpath != /* ]] && cmdpath=${SLURM_SUBMIT_DIR:-.}/$cmdpath
if [[ -z ${MR:-} ]]; then
	for c in "$(dirname "$cmdpath")/../bin/mr" "${SLURM_SUBMIT_DIR:-.}/bin/mr" "$(command -v mr)"; do
		[[ $c == /* && -x $c ]] && { MR=$c; break; }
	done
fi
[[ -n ${MR:-} && -x $MR ]] || die "cannot find bin/mr; set MR=/path/to/mr (the same path on every node)"
MR=$(cd "$(dirname "$MR")" && pwd)/$(basename "$MR")

# The master's address: the batch host's NodeAddr, as workers reach it.
node=${SLURMD_NODENAME:-$(hostname)}
host=${MR_MASTER_HOST:-}
if [[ -z $host ]]; then
	host=$(scontrol show node "$node" 2>/dev/null | grep -o 'NodeAddr=[^ ]*' | head -1)
	host=${host#NodeAddr=}
fi
[[ -n $host ]] || host=$(hostname)
[[ $host == *:* ]] && host="[$host]"

LOGS=${MR_LOGS:-mr-logs-$SLURM_JOB_ID}
mkdir -p "$LOGS" || die "cannot make the log directory $LOGS"
LOGS=$(cd "$LOGS" && pwd)
KEY=$LOGS/job.key
(umask 077 && head -c 32 /dev/urandom | base64 >"$KEY") || die "cannot write $KEY"
SECRET=$(<"$KEY")

slots=${MR_SLOTS:-${SLURM_CPUS_PER_TASK:-1}}
workdir=${MR_WORKDIR:-${TMPDIR:-/tmp}}
grace=${MR_STOP_GRACE:-30}
[[ $grace =~ ^[0-9]+$ ]] || die "MR_STOP_GRACE=$grace: want whole seconds"
read -ra wflags <<<"${MR_WORKER_FLAGS--v}"
wflags+=(--connect-timeout "${MR_CONNECT_TIMEOUT:-60s}" --slots "$slots")
((ship && collect)) && wflags+=(--workdir "$workdir")

MPID= SPID=
# stop PID...: SIGTERM, then SIGKILL for what is still there 10 s later.
stop() {
	local p i
	kill -TERM "$@" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		for p; do kill -0 "$p" 2>/dev/null && break; p=; done
		[[ -z $p ]] && return
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null
}
cleanup() {
	trap - TERM INT
	[[ -n $MPID ]] && stop "$MPID"
	[[ -n $SPID ]] && stop "$SPID"
	wait 2>/dev/null
	rm -f "$KEY"
}
trap cleanup EXIT
trap 'say "stopped by a signal"; exit 143' TERM INT

say "job $SLURM_JOB_ID on ${SLURM_JOB_NODELIST:-?}: master on $node ($host), ${SLURM_NTASKS:-${SLURM_JOB_NUM_NODES:-?}} workers with $slots slots; logs in $LOGS"
say "running $MR"
"$MR" master --listen "$host:${MR_PORT:-0}" --secret-file "$KEY" "$@" 2>"$LOGS/master.log" &
MPID=$!

# The master's address, port included, from its first line.
addr=
for ((i = 0; i < 1200; i++)); do
	addr=$(sed -n 's/.* to workers on \([^ ]*\)$/\1/p' "$LOGS/master.log" | head -1)
	[[ -n $addr ]] && break
	kill -0 "$MPID" 2>/dev/null || break
	sleep 0.1
done
if [[ -z $addr ]]; then
	if kill -0 "$MPID" 2>/dev/null; then
		echo "slurm-job: the master did not start listening within 120 s: $(tail -1 "$LOGS/master.log")" >&2
		exit 1 # cleanup stops it
	fi
	wait "$MPID"
	rc=$?
	MPID=
	echo "slurm-job: the master did not start (exit $rc): $(tail -1 "$LOGS/master.log")" >&2
	exit $((rc ? rc : 1))
fi
say "master listening on $addr"

# Each task: say where it runs, take the secret out of the environment,
# and hand it to the worker on a descriptor; no file is left on the node.
WORKER='
s=$MR_JOB_SECRET
unset MR_JOB_SECRET
echo "worker $SLURM_PROCID on $(hostname) ($SLURMD_NODENAME)" >&2
[ -x "$MR" ] || { echo "slurm-job: no $MR on $(hostname)" >&2; exit 127; }
exec "$MR" worker --master "$0" --secret-file /dev/fd/3 "$@" 3<<<"$s"
'
MR_JOB_SECRET=$SECRET MR=$MR srun --export=ALL --no-kill --kill-on-bad-exit=0 --label \
	bash -c "$WORKER" "$addr" "${wflags[@]}" >"$LOGS/workers.log" 2>&1 &
SPID=$!

# Workers exit as soon as the master tells them the job is over, and the
# master then lingers a moment (up to 5 s) to tell the others: srun may end
# first. Only a master still running MR_STOP_GRACE seconds (10 at least)
# after its last worker has gone has a job with no workers left.
wait -n -p who "$MPID" "$SPID"
rc=$?
if [[ $who == "$SPID" ]]; then
	SPID=
	for ((i = 0; i < (grace > 10 ? grace : 10) * 10; i++)); do
		kill -0 "$MPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$MPID" 2>/dev/null; then
		echo "slurm-job: every worker exited (srun: $rc) before the job was done; see $LOGS/workers.log" >&2
		exit 1 # cleanup stops the master
	fi
	wait "$MPID"
	rc=$?
	MPID=
	say "master exited $rc: $(tail -1 "$LOGS/master.log")"
	exit "$rc"
fi
MPID=
say "master exited $rc: $(tail -1 "$LOGS/master.log")"
for ((i = 0; i < grace * 10; i++)); do
	kill -0 "$SPID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$SPID" 2>/dev/null; then
	say "stopping the workers still running after $grace s"
	stop "$SPID"
fi
wait "$SPID" 2>/dev/null
SPID=
exit "$rc"
