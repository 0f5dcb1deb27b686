#!/usr/bin/env bash
# The Kubernetes manifests in deploy/k8s and the Dockerfile, checked
# offline: no cluster runs here, and `kubectl apply --dry-run=client` asks
# a server for its API list even so, so this uses what kubectl does
# without one, and jq.
#   parse   kubectl label --local reads every manifest
#   decode  kubectl set env --local decodes both Jobs into their Go types
#           (a wrong type fails; an unknown field does not)
#   refs    the objects fit together: the Service selects the master's pod
#           and not the workers', its ports are the master's, workers dial
#           it by name and port; every volume mount has a volume, every
#           Secret and claim named exists, --secret-file lies in the
#           secret's mount under a key the Secret has, master and workers
#           run the same image, pods share no filesystem (--ship-inputs,
#           --collect-output), the placeholder secret is too short to use
#   flags   every flag in the containers' arguments is one that
#           `bin/mr master` or `bin/mr worker` has
#   image   the Dockerfile builds the app and copies the inputs the master
#           is given, and its entry point is bin/mr
# Each prints PASS or FAIL; the script exits non-zero if any failed.
# Without kubectl or jq it prints "test-k8s: SKIP (why)" and exits 0;
# without bin/mr it skips the flags check, saying so.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
K8S=${K8S:-$ROOT/deploy/k8s}
MR=$ROOT/bin/mr

skip() {
	echo "test-k8s: SKIP ($1)"
	exit 0
}
command -v kubectl >/dev/null || skip "no kubectl: apt-get install kubernetes-client"
command -v jq >/dev/null || skip "no jq"
command -v timeout >/dev/null || skip "no timeout"

WORK=$(mktemp -d /tmp/test-k8s.XXXXXX) || exit 1
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
# kubectl keeps a cache under HOME; give it a private one and no config.
export HOME=$WORK KUBECONFIG=$WORK/none

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
kc() { timeout -k 2 30 kubectl "$@"; }

start=$SECONDS

# parse: every object, one JSON document a line, in objs.
if kc label --local -f "$K8S" -o json mr-check=ok >"$WORK/all.json" 2>"$WORK/err" &&
	jq -c 'if .kind == "List" then .items[] else . end' "$WORK/all.json" >"$WORK/objs" 2>>"$WORK/err"; then
	pass "parse ($(wc -l <"$WORK/objs") objects)"
else
	fail parse "$(head -3 "$WORK/err" | tr '\n' ' ')"
	echo "test-k8s: $passed passed, $failed failed in $((SECONDS - start)) s"
	exit 1
fi

if kc set env --local -f "$K8S/master.yaml" -f "$K8S/workers.yaml" -o json MR_CHECK=1 >/dev/null 2>"$WORK/err"; then
	pass decode
else
	fail decode "$(head -3 "$WORK/err" | tr '\n' ' ')"
fi

# q FILTER: FILTER over the array of every object, with $all (that array),
# $svc, $m (the master's Job), $w (the workers') and $mc, $wc (their
# containers) bound.
q() {
	jq -r -s "
		def one(k; n): map(select(.kind == k and .metadata.name == n)) | .[0];
		. as \$all |
		one(\"Service\"; \"mr-master\") as \$svc |
		one(\"Job\"; \"mr-master\") as \$m |
		one(\"Job\"; \"mr-workers\") as \$w |
		\$m.spec.template.spec.containers[0] as \$mc |
		\$w.spec.template.spec.containers[0] as \$wc |
		$1" "$WORK/objs"
}

# refs: each check prints one line when it fails.
errs=$(q '
	[
		(["Secret/mr-job", "PersistentVolumeClaim/mr-data", "Service/mr-master", "Job/mr-master", "Job/mr-workers"] -
			map("\(.kind)/\(.metadata.name)") | .[] | "missing \(.)"),
		(if ($svc.spec.selector | to_entries | all(.value == $m.spec.template.metadata.labels[.key])) then empty
			else "the Service does not select the master pod" end),
		(if ($svc.spec.selector | to_entries | all(.value == $w.spec.template.metadata.labels[.key])) then
			"the Service selects the worker pods too" else empty end),
		($svc.spec.ports[] | .targetPort as $t | select([$mc.ports[].name] | index($t) | not) |
			"Service port \(.name) targets \($t), which the master container does not name"),
		(($svc.spec.ports[] | select(.name == "workers") | .port) as $p |
			($wc.args | map(select(startswith("--master=")))[0]) as $a |
			if $a == "--master=\($svc.metadata.name):\($p)" then empty
			else "workers dial \($a // "no --master"), not \($svc.metadata.name):\($p)" end),
		(if $mc.image == $wc.image then empty
			else "master image \($mc.image) and worker image \($wc.image) differ: the app would not load" end),
		($m, $w | .spec.template.spec as $s | .metadata.name as $job |
			($s.containers[].volumeMounts[] | .name as $n |
				select([$s.volumes[].name] | index($n) | not) | "\($job): mount \($n) has no volume"),
			($s.volumes[] | select(.secret) | .secret.secretName as $sn |
				select([$all[] | select(.kind == "Secret") | .metadata.name] | index($sn) | not) |
				"\($job): no Secret \($sn)"),
			($s.volumes[] | select(.persistentVolumeClaim) | .persistentVolumeClaim.claimName as $cn |
				select([$all[] | select(.kind == "PersistentVolumeClaim") | .metadata.name] | index($cn) | not) |
				"\($job): no claim \($cn)"),
			($s.containers[0] as $c | ($s.volumes[] | select(.secret)) as $v |
				($c.volumeMounts[] | select(.name == $v.name) | .mountPath) as $dir |
				($c.args | map(select(startswith("--secret-file=")))[0] // "" | ltrimstr("--secret-file=")) as $f |
				($all[] | select(.kind == "Secret" and .metadata.name == $v.secret.secretName) |
					(.stringData // {}) + (.data // {}) | keys) as $keys |
				if $f == "" then "\($job): no --secret-file"
				elif ($f | startswith($dir + "/")) and ($keys | index($f | ltrimstr($dir + "/"))) then empty
				else "\($job): --secret-file \($f) is not a key of the secret mounted at \($dir)" end)),
		(["--ship-inputs", "--collect-output"] - $mc.args | .[] |
			"the master lacks \(.): pods share no filesystem"),
		(if ($mc.args | any(startswith("--app="))) then empty else "the master has no --app" end),
		(if ($w.spec.parallelism // 1) >= 1 then empty else "workers parallelism \($w.spec.parallelism)" end),
		(if $m.spec.template.spec.restartPolicy == "Never" and $m.spec.backoffLimit == 0 then empty
			else "the master Job would start the job again after a failure" end),
		($all[] | select(.kind == "Secret") | (.stringData // {}) | to_entries[] |
			select((.value | length) >= 16) | "the placeholder secret \(.key) is long enough to be used: make it shorter")
	] | .[]' 2>&1 | sed 's/^/  /')
if [[ -z $errs ]]; then
	pass refs
else
	fail refs "$(echo "$errs" | head -1 | sed 's/^ *//') ($(echo "$errs" | wc -l) problems)"
	echo "$errs"
fi

# flags: NAME of each --NAME[=VALUE] or -X in a container's arguments
# must be in bin/mr's help for that command.
if [[ ! -x $MR ]]; then
	echo "test-k8s: SKIP flags (no bin/mr; run 'make build')"
else
	bad=
	for who in m w; do
		cmd=$(q "\$${who}c.args[0]")
		help=$(timeout -k 2 10 "$MR" "$cmd" --help 2>&1)
		for f in $(q "\$${who}c.args[1:][] | select(startswith(\"-\")) | sub(\"=.*\"; \"\")"); do
			grep -qE -- "(^|[ ,])$f( |,|$)" <<<"$help" || bad+=" mr $cmd $f"
		done
	done
	[[ -z $bad ]] && pass flags || fail flags "unknown flags:$bad"
fi

# image: what the master is given is in the image.
D=$ROOT/Dockerfile
app=$(q '$mc.args[] | select(startswith("--app=")) | ltrimstr("--app=")')
ins=$(q '$mc.args[1:][] | select(startswith("-") | not)')
errs=
[[ -f $D ]] || errs+=" no Dockerfile;"
grep -q '^ENTRYPOINT \["/mr/bin/mr"\]' "$D" || errs+=" the entry point is not /mr/bin/mr;"
grep -q '^RUN make build apps' "$D" || errs+=" bin/mr and the apps are not built together by make;"
grep -q '^COPY --from=build /src/bin/apps/ /mr/bin/apps/' "$D" || errs+=" the apps are not copied to /mr/bin/apps;"
a=${app#/mr/bin/apps/}
[[ $app == /mr/bin/apps/*.so && -d $ROOT/apps/${a%.so} ]] || errs+=" --app $app is not an app of apps/ in /mr/bin/apps;"
for in in $ins; do
	grep -q "^COPY .* $in/\?\$" "$D" || errs+=" input $in is not copied into the image;"
done
[[ -z $errs ]] && pass image || fail image "${errs% ;}"

echo "test-k8s: $passed passed, $failed failed in $((SECONDS - start)) s"
((failed == 0))
