# Helpers for the tests that build hosts out of network namespaces
# (netns-cluster.sh, test-slurm.sh), sourced by them. The caller sets NAME,
# the script's name for its messages.

# killns NS: SIGKILL every process in NS, and wait (up to 5 s) until none is
# left.
killns() {
	local i pids
	for ((i = 0; i < 100; i++)); do
		pids=$(ip netns pids "$1" 2>/dev/null)
		[[ -z $pids ]] && return 0
		kill -9 $pids 2>/dev/null
		sleep 0.05
	done
	echo "$NAME: processes left in $1: $pids" >&2
	return 1
}

# until_ok SECONDS CMD...: poll CMD every 50 ms until it succeeds; false if
# it has not within SECONDS.
until_ok() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

# bridge_up BR: a bridge, br0, in the existing namespace BR.
bridge_up() {
	ip -n "$1" link set lo up &&
		ip -n "$1" link add br0 type bridge &&
		ip -n "$1" link set br0 up
}

# host_up BR NS ADDR VETH: a new namespace NS whose eth0 has ADDR (on a
# /24) and is joined to BR's bridge by a veth pair, VETH at the bridge's end.
host_up() {
	ip netns add "$2" &&
		ip -n "$2" link set lo up &&
		ip link add eth0 netns "$2" type veth peer name "$4" netns "$1" &&
		ip -n "$1" link set "$4" master br0 up &&
		ip -n "$2" addr add "$3/24" dev eth0 &&
		ip -n "$2" link set eth0 up
}
