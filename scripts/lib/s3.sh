# Helpers for the scripts that run jobs against a real S3 server
# (test-s3.sh, bench-s3.sh, netns-cluster.sh), sourced by them: versitygw,
# which serves a local directory over the S3 protocol, each bucket a
# subdirectory. The caller sets NAME, the script's name for its messages.

VGW_VERSION=v1.8.0
VGW_CACHE=${VGW_CACHE:-$HOME/.cache/gomr-versitygw}
VGW=$VGW_CACHE/versitygw-$VGW_VERSION
S3_KEY=${S3_KEY:-AKIAGOMRTEST}
S3_SECRET=${S3_SECRET:-gomr-test-secret-not-for-production}

# vgw_build: build versitygw once into VGW_CACHE (about a minute, from the
# Go module proxy); false, with the reason in VGW_WHY, if it cannot.
vgw_build() {
	[[ -x $VGW ]] && return 0
	command -v go >/dev/null || { VGW_WHY="no go command to build versitygw with"; return 1; }
	mkdir -p "$VGW_CACHE" || { VGW_WHY="cannot make $VGW_CACHE"; return 1; }
	echo "$NAME: building versitygw $VGW_VERSION into $VGW_CACHE (once)" >&2
	local log=$VGW_CACHE/build.log
	if ! (cd "$VGW_CACHE" && GOBIN=$VGW_CACHE/bin GOFLAGS=-buildvcs=false \
		go install "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION") >"$log" 2>&1; then
		VGW_WHY="go install versitygw@$VGW_VERSION failed: $(tail -1 "$log")"
		return 1
	fi
	mv "$VGW_CACHE/bin/versitygw" "$VGW" && rmdir "$VGW_CACHE/bin" 2>/dev/null
	[[ -x $VGW ]] || { VGW_WHY="versitygw was not built"; return 1; }
}

# vgw_start DIR ADDR [PREFIX...]: serve DIR at ADDR (host:port) in the
# background, run through PREFIX (say, ip netns exec NS), and wait up to
# 10 s until it answers; its PID is VGW_PID, its log DIR.log.
vgw_start() {
	local dir=$1 addr=$2
	shift 2
	mkdir -p "$dir"
	"$@" "$VGW" --access "$S3_KEY" --secret "$S3_SECRET" --port "$addr" --keep-alive --quiet \
		posix "$dir" >>"$dir.log" 2>&1 &
	VGW_PID=$!
	local i host=${addr%:*} port=${addr##*:}
	for ((i = 0; i < 200; i++)); do
		kill -0 "$VGW_PID" 2>/dev/null || { echo "$NAME: versitygw exited: $(tail -2 "$dir.log")" >&2; return 1; }
		"$@" bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "$NAME: versitygw does not answer at $addr" >&2
	return 1
}

# vgw_stop: stop the server started last, and wait for it.
vgw_stop() {
	[[ -n ${VGW_PID:-} ]] || return 0
	kill "$VGW_PID" 2>/dev/null
	wait "$VGW_PID" 2>/dev/null
	VGW_PID=
}

# free_port: a TCP port nothing on this host listens on now.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 20000))
		bash -c "exec 3<>/dev/tcp/127.0.0.1/$p" 2>/dev/null || { echo "$p"; return; }
	done
}

# s3_env ENDPOINT: the environment every mr process of a test gets.
s3_env() {
	export AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_REGION=us-east-1
	export AWS_ENDPOINT_URL_S3=$1
	unset AWS_ENDPOINT_URL AWS_PROFILE AWS_SESSION_TOKEN
}
