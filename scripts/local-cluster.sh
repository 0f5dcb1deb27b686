#!/usr/bin/env bash
# Start a master and N workers on this machine in the background, each with
# its own log file, wait for the job, and report how it went.
#
# Usage: scripts/local-cluster.sh [-n WORKERS] [-o OUTDIR] [-l LOGDIR] [-t TIMEOUT] APP.so INPUTS... [-- MASTER FLAGS...]
#   -n  number of workers (default 3)
#   -o  output directory for mr-out-* (default ./out)
#   -l  log directory (default ./logs): master.log, worker-N.log
#   -t  seconds after which every process is killed (default 3600)
# Extra master flags (e.g. --nreduce 5 --param k=v) go after "--".
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MR=${MR:-$ROOT/bin/mr}
n=3 out=./out logs=./logs limit=3600
while getopts "n:o:l:t:h" opt; do
	case $opt in
	n) n=$OPTARG ;;
	o) out=$OPTARG ;;
	l) logs=$OPTARG ;;
	t) limit=$OPTARG ;;
	*) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
(($# >= 2)) || { echo "local-cluster: want APP.so and at least one input; see -h" >&2; exit 2; }
[[ -x $MR ]] || { echo "local-cluster: $MR is missing; run 'make build apps'" >&2; exit 1; }
app=$1
shift
inputs=()
while (($#)) && [[ $1 != -- ]]; do inputs+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
mkdir -p "$out" "$logs" || exit 1
sock="$(cd "$logs" && pwd)/master.sock"

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; exit 130' INT TERM

start=$(date +%s%N)
timeout -k 5 "$limit" "$MR" master --listen "unix:$sock" --out "$out" "$@" "${inputs[@]}" 2>"$logs/master.log" &
master=$!
workers=()
for i in $(seq "$n"); do
	timeout -k 5 "$limit" "$MR" worker -v --master "unix:$sock" "$app" 2>"$logs/worker-$i.log" &
	workers+=($!)
done
pids=("$master" "${workers[@]}")
echo "local-cluster: master pid $master and $n workers started; logs in $logs/"

wait "$master"
rc=$?
for i in "${!workers[@]}"; do
	wait "${workers[$i]}"
	echo "local-cluster: worker $((i + 1)) exited $? ($(grep -c ' start$' "$logs/worker-$((i + 1)).log") tasks)"
done
ms=$((($(date +%s%N) - start) / 1000000))
elapsed=$((ms / 1000)).$(printf %03d $((ms % 1000)))
if ((rc == 0)); then
	echo "local-cluster: job done in ${elapsed}s: $(ls "$out"/mr-out-* | wc -l) output files in $out/"
else
	echo "local-cluster: job FAILED (master exit $rc) after ${elapsed}s: $(tail -1 "$logs/master.log")" >&2
fi
exit $rc
