#!/usr/bin/env bash
# Interop with MQTT clients of other languages, against the real daemon over
# real sockets: Mosquitto's mosquitto_pub and mosquitto_sub (C, over TCP) and
# MQTT.js (Node.js, over TCP and WebSocket, see mqttjs.js), MQTT 3.1.1 and 5.
#
# It builds cmd/midge, starts it on free loopback ports (port 0: the daemon
# logs the ports it got), runs each check, and prints one line per check and
# a closing "N passed, M failed"; it exits non-zero on any failure, and always
# stops the daemon. A part whose client is missing is skipped with a SKIP
# line, except when CI=true, where it is a failure. scripts/test.sh installs
# the clients when it can: mosquitto-clients from apt, MQTT.js with npm ci
# here.
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
start=$SECONDS

work=$(mktemp -d)
daemon=""   # the daemon's pid
bg_pids=()  # clients started in the background
cleanup() {
	for p in "${bg_pids[@]}" $daemon; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${bg_pids[@]}" $daemon; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0
pass() { echo "ok    $1"; passed=$((passed + 1)); }
fail() {
	echo "FAIL  $1"
	[ -s "$2" ] && sed 's/^/      /' "$2"
	failed=$((failed + 1))
}

# check NAME FUNCTION [ARGS]: runs a check, its output into a log shown if it
# fails. Checks run with errexit off (they are tested by if), so every step
# ends in `|| return 1`.
check() {
	local name=$1 log=$work/check.log
	shift
	if "$@" >"$log" 2>&1; then pass "$name"; else fail "$name" "$log"; fi
}

# missing PART REASON: a part cannot run; a failure in CI, a SKIP elsewhere.
missing() {
	if [ "${CI:-}" = true ]; then
		echo "missing: $2" >"$work/missing"
		fail "$1" "$work/missing"
	else
		echo "SKIP  $1: $2"
	fi
}

# wait_for FILE TEXT: waits up to 10 s for TEXT to appear in FILE.
wait_for() {
	local i
	for i in $(seq 200); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	echo "no \"$2\" in $1 after 10 s:"
	cat "$1"
	return 1
}

# limit CMD...: runs a client for at most 15 s (each has a 10 s limit of its
# own where it has one: mosquitto_pub has none), so that a broker that never
# answers fails the check rather than hanging the run.
limit() {
	local code=0
	timeout 15 "$@" || code=$?
	if [ $code = 124 ]; then echo "timed out after 15 s: $*"; fi
	return $code
}

# background OUT CMD...: starts CMD with its output into OUT, for at most
# 15 s too; its pid is in bg (timeout's, which passes a kill on to CMD).
background() {
	local out=$1
	shift
	timeout 15 "$@" >"$out" 2>&1 &
	bg=$!
	bg_pids+=("$bg")
}

# expect_lines FILE LINE...: each LINE is a whole line of FILE, in any order.
expect_lines() {
	local file=$1 line ok=0
	shift
	for line in "$@"; do
		if ! grep -qFx -- "$line" "$file"; then
			echo "missing line: $line"
			ok=1
		fi
	done
	if [ $ok != 0 ]; then echo "in:"; cat "$file"; fi
	return $ok
}

# ---- the daemon ----

echo "-- building and starting midge"
(cd "$root" && go build -o "$work/midge" ./cmd/midge)
"$work/midge" -tcp 127.0.0.1:0 -ws 127.0.0.1:0>"$work/midge.log" 2>&1 &
daemon=$!
if ! wait_for "$work/midge.log" "midge started" >"$work/start.log"; then
	cat "$work/start.log"
	echo "midge did not start"
	exit 1
fi
tcp=$(sed -n 's|.*listening on=tcp://\([^ ]*\).*|\1|p' "$work/midge.log")
ws=$(sed -n 's|.*listening on=\(ws://[^ ]*\).*|\1|p' "$work/midge.log")
if [ -z "$tcp" ] || [ -z "$ws" ]; then
	echo "no listen addresses in the log:"
	cat "$work/midge.log"
	exit 1
fi
tcp_host=${tcp%:*}
tcp_port=${tcp##*:}
echo "   tcp://$tcp $ws"

mosq=(-h "$tcp_host" -p "$tcp_port")

# ---- mosquitto_pub and mosquitto_sub ----

# mosq_sub OUT ARGS...: mosquitto_sub in the background, printing "msg TOPIC
# QOS RETAIN PAYLOAD" per message; returns once it has its SUBACK (which -d
# prints; stdbuf makes it print it at once rather than at exit).
mosq_sub() {
	local out=$1
	shift
	background "$out" stdbuf -oL mosquitto_sub "${mosq[@]}" -d -W 10 -F 'msg %t %q %r %p' "$@"
	wait_for "$out" "received SUBACK"
}

mosquitto_qos() {
	local v=$1 out=$work/mosq-qos-$1.out
	mosq_sub "$out" -V "$v" -t "mosq/$v/#" -q 2 -C 3 || return 1
	for q in 0 1 2; do
		limit mosquitto_pub "${mosq[@]}" -V "$v" -t "mosq/$v/q$q" -q $q -m "qos $q" || return 1
	done
	wait "$bg" || { echo "mosquitto_sub exited with $? (124: timed out)"; cat "$out"; return 1; }
	expect_lines "$out" "msg mosq/$v/q0 0 0 qos 0" "msg mosq/$v/q1 1 0 qos 1" "msg mosq/$v/q2 2 0 qos 2"
}

mosquitto_retained() {
	local out=$work/mosq-retained.out
	limit mosquitto_pub "${mosq[@]}" -t mosq/retained -q 1 -r -m kept || return 1
	limit mosquitto_sub "${mosq[@]}" -t mosq/retained -q 1 -C 1 -W 10 -F 'msg %t %q %r %p' >"$out" || return 1
	expect_lines "$out" "msg mosq/retained 1 1 kept" || return 1
	# Cleared by an empty retained message: a new subscriber gets only what
	# is published after it subscribed.
	limit mosquitto_pub "${mosq[@]}" -t mosq/retained -q 1 -r -n || return 1
	mosq_sub "$out" -t mosq/retained -q 1 -C 1 || return 1
	limit mosquitto_pub "${mosq[@]}" -t mosq/retained -q 1 -m live || return 1
	wait "$bg" || { cat "$out"; return 1; }
	expect_lines "$out" "msg mosq/retained 1 0 live"
}

# mosquitto_v5props: MQTT 5 properties from mosquitto_pub reach
# mosquitto_sub unchanged (content type, user properties in order), with the
# subscriber's subscription identifier; mosquitto_sub prints the
# properties with -F (%C content type, %P user properties, %S subscription
# identifier).
mosquitto_v5props() {
	local out=$work/mosq-v5props.out
	background "$out" stdbuf -oL mosquitto_sub "${mosq[@]}" -V mqttv5 -d -W 10 -C 1 -t mosq5/props -q 1 \
		-D subscribe subscription-identifier 7 -F 'msg %t %q %C %P %S %p'
	wait_for "$out" "received SUBACK" || return 1
	limit mosquitto_pub "${mosq[@]}" -V mqttv5 -t mosq5/props -q 1 -m hello \
		-D publish content-type text/plain -D publish user-property a 1 -D publish user-property b 2 || return 1
	wait "$bg" || { echo "mosquitto_sub exited with $? (124: timed out)"; cat "$out"; return 1; }
	expect_lines "$out" "msg mosq5/props 1 text/plain a:1 b:2 7 hello"
}

if command -v mosquitto_pub >/dev/null && command -v mosquitto_sub >/dev/null; then
	have_mosquitto=1
	check "mosquitto 5: pub to sub at QoS 0, 1, 2" mosquitto_qos mqttv5
	check "mosquitto 5: properties and a subscription identifier" mosquitto_v5props
	check "mosquitto 3.1.1: pub to sub at QoS 0, 1, 2" mosquitto_qos mqttv311
	check "mosquitto 3.1: pub to sub at QoS 0, 1, 2" mosquitto_qos mqttv31
	check "mosquitto: retained message, set and cleared" mosquitto_retained
else
	have_mosquitto=0
	missing "mosquitto" "mosquitto_pub and mosquitto_sub are not installed (apt-get install mosquitto-clients)"
fi

# ---- MQTT.js ----

mqttjs() { limit node mqttjs.js "$@"; }

if ! command -v node >/dev/null; then
	have_mqttjs=0
	missing "MQTT.js" "node is not installed (apt-get install nodejs npm)"
elif [ ! -d node_modules/mqtt ]; then
	have_mqttjs=0
	missing "MQTT.js" "test/interop/node_modules is missing (npm ci in test/interop)"
else
	have_mqttjs=1
	for url in "mqtt://$tcp" "$ws"; do
		check "MQTT.js $url: publish and subscribe at QoS 0, 1, 2" mqttjs pubsub "$url"
		check "MQTT.js $url: retained message, set and cleared" mqttjs retained "$url"
		check "MQTT.js $url: will on a dropped connection" mqttjs will "$url"
		check "MQTT.js 5 $url: user properties and a subscription identifier" mqttjs v5props "$url"
		check "MQTT.js 5 $url: request/response with response topic and correlation data" mqttjs v5rpc "$url"
	done
fi

# ---- MQTT.js and mosquitto together ----

mqttjs_to_mosquitto() {
	local out=$work/js-to-mosq.out
	mosq_sub "$out" -t js-to-mosq/# -q 2 -C 3 || return 1
	for q in 0 1 2; do
		mqttjs pub "$ws" "js-to-mosq/q$q" $q "from MQTT.js $q" || return 1
	done
	wait "$bg" || { cat "$out"; return 1; }
	expect_lines "$out" "msg js-to-mosq/q0 0 0 from MQTT.js 0" \
		"msg js-to-mosq/q1 1 0 from MQTT.js 1" "msg js-to-mosq/q2 2 0 from MQTT.js 2"
}

mosquitto_to_mqttjs() {
	local out=$work/mosq-to-js.out
	background "$out" node mqttjs.js sub "$ws" "mosq-to-js/#" 2 3
	wait_for "$out" subscribed || return 1
	for q in 0 1 2; do
		limit mosquitto_pub "${mosq[@]}" -t "mosq-to-js/q$q" -q $q -m "from mosquitto $q" || return 1
	done
	wait "$bg" || { cat "$out"; return 1; }
	expect_lines "$out" "mosq-to-js/q0 0 from mosquitto 0" \
		"mosq-to-js/q1 1 from mosquitto 1" "mosq-to-js/q2 2 from mosquitto 2"
}

if [ $have_mosquitto = 1 ] && [ $have_mqttjs = 1 ]; then
	check "MQTT.js (WebSocket) to mosquitto_sub (TCP) at QoS 0, 1, 2" mqttjs_to_mosquitto
	check "mosquitto_pub (TCP) to MQTT.js (WebSocket) at QoS 0, 1, 2" mosquitto_to_mqttjs
fi

# ---- the daemon again ----

stop_daemon() {
	kill -TERM "$daemon" || return 1
	local code=0
	wait "$daemon" || code=$?
	daemon=""
	if [ $code != 0 ]; then echo "midge exited with $code"; return 1; fi
	if grep -E 'level=(ERROR|WARN)' "$work/midge.log"; then return 1; fi
}
check "midge: no errors logged, exit 0 on SIGTERM" stop_daemon

if [ "$failed" != 0 ]; then
	echo "-- the daemon's log (the end):"
	tail -n 30 "$work/midge.log"
fi
echo "-- interop took $((SECONDS - start))s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
