#!/usr/bin/env bash
# Word count over text read from a local S3 store against the same job
# over the same files on the local disk.
#
# The store is versitygw (see scripts/lib/s3.sh) serving a directory whose
# bucket holds hard links to the cached benchmark inputs, so both jobs
# read the same bytes from the page cache; the difference is the S3 path:
# HTTP, ranged GETs, the server's own copying. Two configurations run
# REPEAT times each, interleaved (local, s3, local, s3, ...), with mr run,
# one worker per CPU and --nreduce 8, output to a local directory:
#   local   bin/mr run ... DIR        (the 8 files)
#   s3      bin/mr run ... s3://bench/text
# Every run's output is compared with the first local run's. The ratio
# is of the medians, s3 over local; the goal is at most 1.25. On a machine
# that other work shares, wall times swing by 2x from run to run, so the
# table also gives the fastest run of each (noise only adds time) and
# the CPU time each job cost: mr run and its workers (user + system, from
# GNU time), plus, for s3, what versitygw spent serving it.
#
# Usage: scripts/bench-s3.sh   (or: make bench-s3)
# Environment: SIZE (512MiB, as 8 files, or 64MiB), REPEAT (default 3),
#   BENCH_CACHE (default ~/.cache/gomr-bench), KEEP=1.
# Results: a table on stdout and in bench/results/s3-SIZE-DATE.md.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NAME=bench-s3
source "$ROOT/scripts/lib/s3.sh"
MR=$ROOT/bin/mr
APP=$ROOT/bin/apps/wc.so
SIZE=${SIZE:-512MiB}
REPEAT=${REPEAT:-3}
T=600

die() { echo "$NAME: $*" >&2; exit 1; }
[[ -x $MR && -f $APP ]] || die "bin/mr or bin/apps/wc.so is missing; run 'make build apps'"
case $SIZE in
512MiB) per=$((64 << 20)) ;;
64MiB) per=$((8 << 20)) ;;
*) die "SIZE=$SIZE: want 512MiB or 64MiB" ;;
esac
vgw_build || die "cannot build versitygw: $VGW_WHY"

IN=${BENCH_CACHE:-$HOME/.cache/gomr-bench}/flat/$SIZE
if [[ $(ls "$IN"/text-*.txt 2>/dev/null | wc -l) != 8 ]]; then
	echo "$NAME: generating $SIZE of text in $IN" >&2
	mkdir -p "$IN" && "$MR" gen --kind text --size "$per" --files 8 --out "$IN" || die "mr gen failed"
fi

W=$(mktemp -d /tmp/gomr-bench-s3.XXXXXX)
cleanup() {
	vgw_stop
	[[ -n ${KEEP:-} ]] && echo "$NAME: kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Hard links when the cache and the work directory share a filesystem,
# copies otherwise.
mkdir -p "$W/store/bench/text"
ln "$IN"/text-*.txt "$W/store/bench/text/" 2>/dev/null || cp "$IN"/text-*.txt "$W/store/bench/text/" || die "cannot put the inputs in the store"
PORT=$(free_port)
vgw_start "$W/store" "127.0.0.1:$PORT" || die "versitygw did not start"
s3_env "http://127.0.0.1:$PORT"
export XDG_CACHE_HOME=$W/cache
cat "$IN"/text-*.txt >/dev/null # into the page cache

# server_cpu prints the CPU time versitygw has used, in milliseconds.
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$VGW_PID/stat"; }

# run NAME INPUT prints the job's wall time and CPU time in milliseconds.
run() {
	local name=$1 input=$2 d=$W/$1
	rm -rf "$d" && mkdir -p "$d/out"
	local t0 t1 s0 s1
	s0=$(server_cpu)
	t0=$(date +%s%N)
	/usr/bin/time -f "%U %S" -o "$d/time" timeout -k 5 $T "$MR" run --nreduce 8 --http "" --out "$d/out" "$APP" "$input" 2>"$d/run.log" ||
		{ tail -3 "$d/run.log" >&2; die "$name: mr run exited $?"; }
	t1=$(date +%s%N)
	s1=$(server_cpu)
	local cpu
	cpu=$(awk -v s=$((s1 - s0)) '{print int(($1 + $2) * 1000) + s}' "$d/time")
	LC_ALL=C sort "$d"/out/mr-out-* >"$d/sorted"
	if [[ -f $W/want ]]; then
		cmp -s "$d/sorted" "$W/want" || die "$name: output differs from the first local run's"
	else
		mv "$d/sorted" "$W/want"
	fi
	rm -rf "$d/out" "$d/sorted"
	echo "$(((t1 - t0) / 1000000)) $cpu"
}

declare -A times cpus
load0=$(cut -d' ' -f1 /proc/loadavg)
for ((r = 1; r <= REPEAT; r++)); do
	for c in local s3; do
		case $c in
		local) res=$(run "$c-$r" "$W/store/bench/text") ;;
		s3) res=$(run "$c-$r" "s3://bench/text") ;;
		esac
		[[ -n $res ]] || exit 1
		read -r ms cpu <<<"$res"
		echo "$NAME: run $r $c: $(awk -v m="$ms" -v c="$cpu" 'BEGIN{printf "%.2f s, %.2f CPU s", m/1000, c/1000}')" >&2
		times[$c]+="$ms " cpus[$c]+="$cpu "
	done
done
load1=$(cut -d' ' -f1 /proc/loadavg)

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
fastest() { tr ' ' '\n' | grep . | sort -n | head -1; }
lm=$(median <<<"${times[local]}")
sm=$(median <<<"${times[s3]}")
lf=$(fastest <<<"${times[local]}")
lc=$(median <<<"${cpus[local]}")
out=$ROOT/bench/results/s3-$SIZE-$(date +%Y%m%d-%H%M%S).md
{
	echo "Word count (apps/wc), $SIZE of text in 8 files, mr run with $(nproc) workers, --nreduce 8,"
	echo "on $(nproc) CPUs; input from local files or from versitygw $VGW_VERSION on 127.0.0.1 (s3://)."
	echo "Median of $REPEAT runs each, interleaved; load average $load0 before, $load1 after."
	echo
	echo "| input | median s | vs local | fastest s | vs local | median CPU s | vs local | every run (s) |"
	echo "|---|---|---|---|---|---|---|---|"
	for c in local s3; do
		m=$(median <<<"${times[$c]}")
		f=$(fastest <<<"${times[$c]}")
		u=$(median <<<"${cpus[$c]}")
		all=$(for x in ${times[$c]}; do awk -v m="$x" 'BEGIN{printf "%.2f ", m/1000}'; done)
		awk -v c="$c" -v m="$m" -v k="$lm" -v f="$f" -v kf="$lf" -v u="$u" -v ku="$lc" -v all="$all" \
			'BEGIN{printf "| %s | %.2f | %.2fx | %.2f | %.2fx | %.2f | %.2fx | %s|\n", c, m/1000, m/k, f/1000, f/kf, u/1000, u/ku, all}'
	done
	# Each s3 run over the local run just before it, the fairest pairing
	# on a machine whose load changes.
	read -ra l <<<"${times[local]}"
	read -ra s <<<"${times[s3]}"
	echo
	echo -n "Pairwise s3/local ratios:"
	for ((i = 0; i < ${#l[@]}; i++)); do awk -v a="${s[i]}" -v b="${l[i]}" 'BEGIN{printf " %.2f", a/b}'; done
	echo
} | tee "$out"
echo "$NAME: wrote $out" >&2
awk -v a="$sm" -v b="$lm" 'BEGIN{exit !(a/b <= 1.25)}' || echo "$NAME: the s3 runs took more than 1.25x the local ones" >&2
