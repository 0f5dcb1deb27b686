#!/usr/bin/env bash
# The chaos suite: word count and the indexer on a local cluster of a
# master and 4 workers, with a random mix of faults injected into each
# round, and every round's output compared byte for byte (sorted) with
# `mr seq`.
#
# The faults, each drawn with even odds (at least one per round) and
# injected at a random moment of the job:
#   kill-worker    SIGKILL a worker process; its loop starts a new one
#   stop-worker    SIGSTOP a worker for 3 s, longer than the worker
#                  timeout, then SIGCONT it
#   kill-master    SIGKILL the master, then start it again with the same
#                  flags: it resumes from its journal
#   flip-byte      flip one byte of a map output file, in the job
#                  directory or a worker's own
#   full-disk      worker 4 keeps its map output on a 1 MiB tmpfs, which
#                  fills up
#   throttle       worker 3 runs in a cgroup with a tenth of a CPU
# Workers 1 and 2 write map output to the master's job directory; 3 and 4
# keep theirs and serve it to reducers, so both shuffles are exercised.
# full-disk and throttle need root (a mount and a cgroup); without it
# they are left out, and the script says so.
#
# Usage: scripts/chaos.sh [--rounds N] [--seed S] [--no-faults]   (or: make chaos)
#   --rounds N   rounds to run (default 10)
#   --no-faults  inject nothing: the clean runs to compare times with
#   --seed S     the first round's seed (default: from the clock); round
#                r uses S+r-1, so any round can be run again alone with
#                --rounds 1 --seed S+r-1
# Environment: SIZE (input bytes per file, 8 files; default 8388608),
#   KEEP=1 (keep the work directory and every log).
# It prints one line per round (seed, app, faults, time, verdict) and ends
# with "chaos: N passed, M failed"; it exits non-zero if any failed.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MR=$ROOT/bin/mr
APPS=$ROOT/bin/apps
ROUNDS=10
NOFAULTS=
SEED=$(($(date +%s) % 100000))
T=120 # seconds a round may take

while (($#)); do
	case $1 in
	--rounds) ROUNDS=${2:-}; shift 2 ;;
	--seed) SEED=${2:-}; shift 2 ;;
	--no-faults) NOFAULTS=1; shift ;;
	*) echo "chaos: unknown argument $1; usage: scripts/chaos.sh [--rounds N] [--seed S]" >&2; exit 2 ;;
	esac
done
[[ $ROUNDS =~ ^[0-9]+$ && $SEED =~ ^[0-9]+$ ]] || { echo "chaos: --rounds and --seed want whole numbers" >&2; exit 2; }
for f in "$MR" "$APPS/wc.so" "$APPS/indexer.so"; do
	[[ -e $f ]] || { echo "chaos: $f is missing; run 'make build apps'" >&2; exit 1; }
done

W=$(mktemp -d /tmp/gomr-chaos.XXXXXX)
CG=
cleanup() {
	pkill -9 -f "$W/" 2>/dev/null
	sleep 0.2
	mountpoint -q "$W/tmpfs" 2>/dev/null && umount -l "$W/tmpfs"
	[[ -n $CG ]] && rmdir "$CG" 2>/dev/null
	[[ -n ${KEEP:-} ]] && echo "chaos: kept $W" || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAULTS=(kill-worker stop-worker kill-master flip-byte)
if ((EUID == 0)) && mkdir -p "$W/tmpfs" && mount -t tmpfs -o size=1m chaos "$W/tmpfs" 2>/dev/null; then
	umount "$W/tmpfs"
	FAULTS+=(full-disk)
else
	echo "chaos: leaving out full-disk: mounting a tmpfs needs root"
fi
if ((EUID == 0)) && [[ -d /sys/fs/cgroup/cpu ]] && mkdir "/sys/fs/cgroup/cpu/gomr-chaos-$$" 2>/dev/null; then
	CG=/sys/fs/cgroup/cpu/gomr-chaos-$$
	echo 100000 >"$CG/cpu.cfs_period_us" && echo 10000 >"$CG/cpu.cfs_quota_us" && FAULTS+=(throttle)
elif ((EUID == 0)) && grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null && mkdir "/sys/fs/cgroup/gomr-chaos-$$" 2>/dev/null; then
	CG=/sys/fs/cgroup/gomr-chaos-$$
	echo "10000 100000" >"$CG/cpu.max" && FAULTS+=(throttle)
else
	echo "chaos: leaving out throttle: it needs root and a cgroup cpu controller"
fi

# The input, 8 files of Zipf text, and each app's output by mr seq.
SIZE=${SIZE:-8388608}
"$MR" gen --kind text --size "$SIZE" --files 8 --out "$W/in" 2>"$W/gen.log" || { echo "chaos: mr gen failed: $(tail -1 "$W/gen.log")" >&2; exit 1; }
INPUTS=("$W"/in/text-*.txt)
for app in wc indexer; do
	mkdir -p "$W/seq-$app"
	timeout -k 2 $T "$MR" seq --out "$W/seq-$app" "$APPS/$app.so" "${INPUTS[@]}" 2>"$W/seq-$app.log" ||
		{ echo "chaos: mr seq $app failed: $(tail -1 "$W/seq-$app.log")" >&2; exit 1; }
	LC_ALL=C sort "$W/seq-$app/mr-out-0" >"$W/want-$app"
done

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# worker_loop D I FLAGS...: run worker I of round directory D again each
# time it dies, until D/over exists.
worker_loop() {
	local d=$1 i=$2
	shift 2
	while [[ ! -e $d/over ]]; do
		if [[ $i == 3 && -n ${THROTTLED:-} ]]; then
			timeout -k 2 $T sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
				"$MR" worker -v --master "unix:$d/m.sock" --connect-timeout 20s "$@" 2>>"$d/worker-$i.log"
		else
			timeout -k 2 $T "$MR" worker -v --master "unix:$d/m.sock" --connect-timeout 20s "$@" 2>>"$d/worker-$i.log"
		fi
		sleep 0.2
	done
}

# flip_byte D: flip one byte of a random map output file under D.
flip_byte() {
	local files f size off b
	mapfile -t files < <(find "$1" -type f -name 'm[0-9]*-a[0-9]*' 2>/dev/null)
	((${#files[@]})) || return 1
	f=${files[RANDOM % ${#files[@]}]}
	size=$(stat -c %s "$f" 2>/dev/null) && ((size > 0)) || return 1
	off=$(((RANDOM * 32768 + RANDOM) % size))
	b=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	[[ -n $b ]] || return 1
	printf "$(printf '\\%03o' $((b ^ 0xff)))" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
	echo "${f##*/}@$off"
}

passed=0 failed=0
for ((r = 1; r <= ROUNDS; r++)); do
	seed=$((SEED + r - 1))
	RANDOM=$seed
	apps=(wc indexer)
	app=${apps[RANDOM % 2]}
	d=$W/round-$r
	mkdir -p "$d/out" "$d/w3" "$d/tmpfs"
	# Draw the faults and when each strikes (ms after the start).
	chosen=() at=()
	for f in "${FAULTS[@]}"; do
		((RANDOM % 2)) && chosen+=("$f")
	done
	((${#chosen[@]})) || chosen=("${FAULTS[RANDOM % ${#FAULTS[@]}]}")
	[[ -n $NOFAULTS ]] && chosen=()
	for f in "${chosen[@]}"; do at+=($((200 + RANDOM % 2500))); done
	THROTTLED= DISK="$d/w4"
	for f in "${chosen[@]}"; do
		[[ $f == throttle ]] && THROTTLED=1
		[[ $f == full-disk ]] && mount -t tmpfs -o size=1m chaos "$d/tmpfs" && DISK="$d/tmpfs"
	done
	mkdir -p "$DISK"
	mflags=(--listen "unix:$d/m.sock" --out "$d/out" --nreduce 8 --split-size 4MiB --task-timeout 2s --worker-timeout 2s)

	start=$(now_ms)
	timeout -k 2 $T "$MR" master "${mflags[@]}" "${INPUTS[@]}" 2>>"$d/master.log" &
	mpid=$!
	# The loops' own stderr would say "Killed" for each worker killed.
	worker_loop "$d" 1 "$APPS/$app.so" 2>/dev/null &
	worker_loop "$d" 2 "$APPS/$app.so" 2>/dev/null &
	worker_loop "$d" 3 --workdir "$d/w3" "$APPS/$app.so" 2>/dev/null &
	worker_loop "$d" 4 --workdir "$DISK" "$APPS/$app.so" 2>/dev/null &
	done_=() notes=() stopped=() cont_at=0 verdict=
	for i in "${!chosen[@]}"; do done_+=(0); done
	while kill -0 "$mpid" 2>/dev/null; do
		el=$(($(now_ms) - start))
		((el > T * 1000)) && { verdict="FAIL (over ${T}s)"; break; }
		for i in "${!chosen[@]}"; do
			((done_[i] == 0 && el >= at[i])) || continue
			done_[i]=1
			case ${chosen[i]} in
			kill-worker)
				mapfile -t ws < <(pgrep -f "^$MR worker .*$d/m.sock")
				((${#ws[@]})) && kill -9 "${ws[RANDOM % ${#ws[@]}]}" 2>/dev/null
				notes+=("kill-worker@${el}ms") ;;
			stop-worker)
				mapfile -t ws < <(pgrep -f "^$MR worker .*$d/m.sock")
				if ((${#ws[@]})); then
					stopped+=("${ws[RANDOM % ${#ws[@]}]}")
					kill -STOP "${stopped[-1]}" 2>/dev/null
					cont_at=$((el + 3000))
				fi
				notes+=("stop-worker@${el}ms") ;;
			kill-master)
				pkill -9 -P "$mpid" 2>/dev/null
				wait "$mpid" 2>/dev/null
				timeout -k 2 $T "$MR" master "${mflags[@]}" "${INPUTS[@]}" 2>>"$d/master.log" &
				mpid=$!
				notes+=("kill-master@${el}ms") ;;
			flip-byte)
				# No map output yet: try again at the next look.
				what=$(flip_byte "$d") && notes+=("flip-byte@${el}ms:$what") || done_[i]=0 ;;
			*) notes+=("${chosen[i]}") ;;
			esac
		done
		if ((cont_at > 0 && el >= cont_at)); then
			kill -CONT "${stopped[@]}" 2>/dev/null
			cont_at=0
		fi
		sleep 0.05
	done
	kill -CONT "${stopped[@]}" 2>/dev/null
	wait "$mpid" 2>/dev/null
	rc=$?
	for i in "${!chosen[@]}"; do
		((done_[i])) || notes+=("${chosen[i]}@never(job over)")
	done
	secs=$(awk -v ms=$(($(now_ms) - start)) 'BEGIN { printf "%.1f", ms / 1000 }')
	touch "$d/over"
	pkill -9 -f "^$MR worker .*$d/m.sock" 2>/dev/null
	wait 2>/dev/null
	mountpoint -q "$d/tmpfs" && umount -l "$d/tmpfs"
	if [[ -z $verdict ]]; then
		if ((rc != 0)); then
			verdict="FAIL (master exited $rc: $(tail -1 "$d/master.log"))"
		elif ! compgen -G "$d/out/mr-out-*" >/dev/null; then
			verdict="FAIL (no output)"
		elif ! LC_ALL=C sort "$d"/out/mr-out-* | cmp -s - "$W/want-$app"; then
			verdict="FAIL (output differs from mr seq)"
		else
			verdict=PASS
		fi
	fi
	[[ $verdict == PASS ]] && passed=$((passed + 1)) || failed=$((failed + 1))
	echo "chaos: round $r seed $seed $app: ${notes[*]:-no faults} ${secs}s $verdict"
	[[ $verdict == PASS && -z ${KEEP:-} ]] && rm -rf "$d"
done
echo "chaos: $passed passed, $failed failed"
((failed == 0))
