#!/usr/bin/env bash
# The straggler benchmark: word count on 4 workers, one of them throttled
# to a tenth of a CPU, with and without backup tasks, against a clean run.
#
# Three configurations run side by side, REPEAT times each, interleaved:
#   clean         4 workers, none throttled
#   backups       worker 1 throttled; backup tasks on (the default)
#   no-backups    worker 1 throttled; --backup-tasks=false
# The throttled worker is started first, so it surely gets a map task. It
# runs in a cgroup of its own with a CPU quota of THROTTLE percent of one
# CPU (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us, whichever the machine
# has). Every run's output is compared with the first clean run's.
#
# Usage: scripts/straggler.sh   (or: make straggler)
# Environment: SIZE (input: 512MiB, as 8 files; or 64MiB for a quick run),
#   REPEAT (runs of each configuration, default 1), THROTTLE (percent of
#   a CPU, default 10), BENCH_CACHE (default ~/.cache/gomr-bench),
#   CONFIGS (which to run, default "clean backups no-backups"), KEEP=1
#   (keep the work directory, with every process's log).
# Results: a table on stdout and in bench/results/straggler-SIZE-DATE.md.
# Needs root for the cgroup; exits 1 with the reason if it cannot throttle.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MR=$ROOT/bin/mr
APP=$ROOT/bin/apps/wc.so
SIZE=${SIZE:-512MiB}
REPEAT=${REPEAT:-1}
THROTTLE=${THROTTLE:-10}
T=600 # seconds any one run may take

die() { echo "straggler: $*" >&2; exit 1; }
[[ -x $MR && -f $APP ]] || die "bin/mr or bin/apps/wc.so is missing; run 'make build apps'"
case $SIZE in
512MiB) per=$((64 << 20)) ;;
64MiB) per=$((8 << 20)) ;;
*) die "SIZE=$SIZE: want 512MiB or 64MiB" ;;
esac

# --- the throttle ---
CG=
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
	grep -qw cpu /sys/fs/cgroup/cgroup.controllers || die "cgroup v2 without the cpu controller"
	CG=/sys/fs/cgroup/gomr-straggler-$$
	mkdir "$CG" 2>/dev/null || die "cannot make a cgroup at $CG (not root?)"
	echo "$((THROTTLE * 1000)) 100000" >"$CG/cpu.max" || die "cannot set $CG/cpu.max"
elif [[ -d /sys/fs/cgroup/cpu ]]; then
	CG=/sys/fs/cgroup/cpu/gomr-straggler-$$
	mkdir "$CG" 2>/dev/null || die "cannot make a cgroup at $CG (not root?)"
	echo 100000 >"$CG/cpu.cfs_period_us" && echo "$((THROTTLE * 1000))" >"$CG/cpu.cfs_quota_us" ||
		die "cannot set the CPU quota of $CG"
else
	die "no cgroup cpu controller at /sys/fs/cgroup"
fi

W=$(mktemp -d /tmp/gomr-straggler.XXXXXX)
pids=()
cleanup() {
	kill -9 "${pids[@]}" 2>/dev/null
	wait 2>/dev/null
	rmdir "$CG" 2>/dev/null
	[[ -n ${KEEP:-} ]] && echo "straggler: kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the input, generated once ---
IN=${BENCH_CACHE:-$HOME/.cache/gomr-bench}/flat/$SIZE
if [[ $(ls "$IN"/text-*.txt 2>/dev/null | wc -l) != 8 ]]; then
	echo "straggler: generating $SIZE of text in $IN" >&2
	mkdir -p "$IN" && "$MR" gen --kind text --size "$per" --files 8 --out "$IN" || die "mr gen failed"
fi
cat "$IN"/text-*.txt >/dev/null # into the page cache

# run NAME THROTTLED MASTER-FLAGS... runs one job and prints its seconds.
run() {
	local name=$1 throttled=$2
	shift 2
	local d=$W/$name sock
	rm -rf "$d" && mkdir -p "$d/out"
	sock=$d/master.sock
	pids=()
	local t0=$(date +%s%N)
	timeout -k 5 $T "$MR" master --listen "unix:$sock" --out "$d/out" --nreduce 8 "$@" "$IN"/text-*.txt 2>"$d/master.log" &
	local master=$!
	pids+=($master)
	for i in 1 2 3 4; do
		if [[ $throttled == yes && $i == 1 ]]; then
			timeout -k 5 $T sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
				"$MR" worker -v --master "unix:$sock" --connect-timeout 30s "$APP" 2>"$d/worker-$i.log" &
		else
			timeout -k 5 $T "$MR" worker -v --master "unix:$sock" --connect-timeout 30s "$APP" 2>"$d/worker-$i.log" &
		fi
		pids+=($!)
		[[ $i == 1 ]] && sleep 0.3 # let the first worker take the first task
	done
	wait "$master"
	local rc=$? t1=$(date +%s%N)
	wait "${pids[@]}" 2>/dev/null
	((rc == 0)) || { tail -5 "$d/master.log" >&2; die "$name: the master exited $rc"; }
	LC_ALL=C sort "$d"/out/mr-out-* >"$d/sorted"
	if [[ -f $W/want ]]; then
		cmp -s "$d/sorted" "$W/want" || die "$name: output differs from the clean run's"
	else
		mv "$d/sorted" "$W/want"
	fi
	echo "$(((t1 - t0) / 1000000))"
}

declare -A times nb
read -ra configs <<<"${CONFIGS:-clean backups no-backups}"
for ((r = 1; r <= REPEAT; r++)); do
	for c in "${configs[@]}"; do
		case $c in
		clean) ms=$(run "$c-$r" no) ;;
		backups) ms=$(run "$c-$r" yes) ;;
		no-backups) ms=$(run "$c-$r" yes --backup-tasks=false) ;;
		esac
		[[ -n $ms ]] || exit 1
		nbk=$(grep -c 'starting a backup attempt' "$W/$c-$r/master.log")
		echo "straggler: run $r $c: $(awk -v m="$ms" 'BEGIN{printf "%.2f", m/1000}')s, $nbk backup attempts" >&2
		times[$c]+="$ms " nb[$c]+="$nbk "
	done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
clean=$(median <<<"${times[clean]}")
out=$ROOT/bench/results/straggler-$SIZE-$(date +%Y%m%d-%H%M%S).md
{
	echo "Word count, $SIZE in 8 files, 4 workers (1 slot each), --nreduce 8, on $(nproc) CPUs;"
	echo "one worker throttled to $THROTTLE% of a CPU. Median of $REPEAT run(s); runs interleaved."
	echo
	echo "| run | seconds | vs clean | backup attempts | every run (s) |"
	echo "|---|---|---|---|---|"
	for c in "${configs[@]}"; do
		m=$(median <<<"${times[$c]}")
		all=$(for x in ${times[$c]}; do awk -v m="$x" 'BEGIN{printf "%.1f ", m/1000}'; done)
		awk -v c="$c" -v m="$m" -v k="$clean" -v b="${nb[$c]}" -v all="$all" \
			'BEGIN{printf "| %s | %.2f | %.2fx | %s | %s |\n", c, m/1000, m/k, b, all}'
	done
} | tee "$out"
echo "straggler: wrote $out" >&2
