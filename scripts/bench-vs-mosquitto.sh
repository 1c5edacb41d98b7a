#!/usr/bin/env bash
# Runs the scenarios the project tracks against Mosquitto and midge, each
# started here on a free loopback port, and prints a table of both brokers'
# figures with the midge/Mosquitto ratios. The load comes from `midge bench`,
# sampling each broker's CPU and RSS through -broker-pid.
#
# While the midge daemon is a stub that exits instead of listening, its column
# says so and the Mosquitto column is still printed.
#
# Needs: go, mosquitto, jq (apt-get install mosquitto jq).
# Environment:
#   DURATION=10s     measured window of each message scenario
#   WARMUP=2s        warm-up before it, not counted
#   RATE=0           messages/s per publisher; 0 is as fast as flow control allows
#   IDLE_CONNS=10000 connections of the idle scenario
#   IDLE_HOLD=30s    how long the idle connections are held
#   KEEPALIVE=10s    keepalive of every connection (the PINGREQ period)
#   BROKERS="mosquitto midge"  which brokers to run
#   SCENARIOS="fanin-qos0 fanout-qos0 fanin-qos1 idle"  which scenarios to run
#   MIDGE_ARGS       extra flags for the midge daemon
#   RETRIES=2        runs again, up to this many times, a scenario during which
#                    other work kept over BUSY=0.25 cores busy (the JSON's
#                    machine.others), after RETRY_WAIT=0 seconds; the table
#                    shows the last run's figures
#   OUT=dir          keep each run's JSON there (default: a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
rate=${RATE:-0}
idle_conns=${IDLE_CONNS:-10000}
idle_hold=${IDLE_HOLD:-30s}
keepalive=${KEEPALIVE:-10s}
brokers=${BROKERS:-mosquitto midge}
retries=${RETRIES:-2}
retry_wait=${RETRY_WAIT:-0}
busy=${BUSY:-0.25}
only=${SCENARIOS:-}

for tool in go mosquitto jq; do
	if ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
		echo "bench-vs-mosquitto: $tool is not installed (apt-get install mosquitto jq)" >&2
		exit 1
	fi
done
mosquitto_bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)

work=$(mktemp -d)
out=${OUT:-$work}
mkdir -p "$out"
broker_pid=""
cleanup() {
	stop_broker
	rm -rf "$work"
}
trap cleanup EXIT

# Every idle connection is a descriptor in the generator and another in the
# broker; both inherit this limit.
need=$((idle_conns + 1024))
if [ "$(ulimit -n)" -lt "$need" ]; then
	ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
if [ "$(ulimit -n)" -lt "$need" ]; then
	echo "bench-vs-mosquitto: ulimit -n is $(ulimit -n), below the $need the idle scenario needs" >&2
	exit 1
fi

echo "== building midge" >&2
go build -o "$work/midge" ./cmd/midge
bench=("$work/midge" bench)
if ! "${bench[@]}" -h >/dev/null 2>&1; then
	echo "bench-vs-mosquitto: this midge has no bench subcommand" >&2
	exit 1
fi

# port_in_use reports whether something accepts connections on port.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_port prints a port below the ephemeral range that nothing listens on.
pick_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 12000))
		port_in_use "$p" || { echo "$p"; return; }
	done
}

# wait_listening waits until the broker listens on port, or its process
# exits; it fails in the second case.
wait_listening() {
	local pid=$1 port=$2
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || return 1
		port_in_use "$port" && return 0
		sleep 0.05
	done
	return 1
}

stop_broker() {
	if [ -n "$broker_pid" ]; then
		kill "$broker_pid" 2>/dev/null || true
		wait "$broker_pid" 2>/dev/null || true
		broker_pid=""
	fi
}

# start_broker NAME starts the broker on a free port and sets broker_pid and
# broker_port; it fails, with the reason in $work/NAME.log, when the broker
# does not listen.
start_broker() {
	local name=$1
	for _ in 1 2 3; do # a port can be taken between the probe and the bind
		broker_port=$(pick_port)
		case $name in
		mosquitto)
			cat >"$work/mosquitto.conf" <<-EOF
				listener $broker_port 127.0.0.1
				allow_anonymous true
				persistence false
				max_queued_messages 1000000
				max_inflight_messages 1000
				log_dest stderr
				log_type error
				log_type warning
			EOF
			"$mosquitto_bin" -c "$work/mosquitto.conf" >"$work/$name.log" 2>&1 &
			;;
		midge)
			# shellcheck disable=SC2086 # MIDGE_ARGS is a list of flags
			"$work/midge" -tcp "127.0.0.1:$broker_port" -ws "" -log-level warn \
				-max-queued 1000000 -max-inflight 1000 ${MIDGE_ARGS:-} >"$work/$name.log" 2>&1 &
			;;
		esac
		broker_pid=$!
		if wait_listening "$broker_pid" "$broker_port"; then
			return 0
		fi
		if ! kill -0 "$broker_pid" 2>/dev/null; then
			wait "$broker_pid" 2>/dev/null && status=0 || status=$?
			broker_pid=""
			# Exiting on its own is the stub (or a bad flag), not a busy port.
			if ! grep -qi "address already in use" "$work/$name.log"; then
				echo "exited with status $status instead of listening: $(head -n 1 "$work/$name.log")" >"$work/$name.why"
				return 1
			fi
		fi
		stop_broker
	done
	echo "did not listen on a free port after 3 tries" >"$work/$name.why"
	return 1
}

# The scenarios: a name, then the bench flags.
scenarios=(
	"fanin-qos0|-scenario fanin -qos 0 -pubs 8 -subs 1 -size 64 -duration $duration -warmup $warmup -rate $rate"
	"fanout-qos0|-scenario fanout -qos 0 -pubs 1 -subs 100 -size 64 -duration $duration -warmup $warmup -rate $rate"
	"fanin-qos1|-scenario fanin -qos 1 -pubs 8 -subs 1 -size 64 -duration $duration -warmup $warmup -rate $rate"
	"idle|-scenario idle -conns $idle_conns -duration $idle_hold"
)

declare -A ran
for name in $brokers; do
	echo "== $name" >&2
	for s in "${scenarios[@]}"; do
		id=${s%%|*}
		flags=${s#*|}
		if [ -n "$only" ] && [[ " $only " != *" $id "* ]]; then
			continue
		fi
		for try in $(seq 0 "$retries"); do
			[ "$try" -gt 0 ] && sleep "$retry_wait"
			# A fresh broker for each run: one that has just been flooded
			# would skew the next one's figures, its RSS above all.
			if ! start_broker "$name"; then
				echo "   skipped: $(cat "$work/$name.why")" >&2
				break 2
			fi
			ran[$name]=1
			echo "-- $name $id: midge bench $flags" >&2
			# shellcheck disable=SC2086 # flags is a list
			if ! "${bench[@]}" -q -json -addr "127.0.0.1:$broker_port" -keepalive "$keepalive" \
				-broker-pid "$broker_pid" $flags >"$out/$name-$id.json"; then
				echo "   $name $id failed" >&2
				rm -f "$out/$name-$id.json"
			fi
			if ! kill -0 "$broker_pid" 2>/dev/null; then
				echo "   $name died during $id: $(tail -n 3 "$work/$name.log" | tr '\n' ' ')" >&2
				broker_pid=""
			fi
			stop_broker
			others=$(jq -r '.machine.others // 0' "$out/$name-$id.json" 2>/dev/null || echo 0)
			if awk -v o="$others" -v b="$busy" 'BEGIN { exit !(o < b) }'; then
				break
			fi
			echo "   other work kept $others cores busy during the run" >&2
		done
	done
done

# get NAME SCENARIO JQ prints one figure, or nothing.
get() {
	local f="$out/$1-$2.json"
	[ -f "$f" ] && jq -r "($3) // empty | if type == \"number\" then . else empty end" "$f" || true
}

# row SCENARIO LABEL JQ FORMAT prints a table row with both brokers and the
# ratio.
row() {
	local sc=$1 label=$2 expr=$3 fmt=$4 mq mg ratio missing="n/a"
	[ -n "${ran[midge]:-}" ] && missing="–"
	mq=$(get mosquitto "$sc" "$expr")
	mg=$(get midge "$sc" "$expr")
	if [ -z "$mq" ] && [ -z "$mg" ] && [ -n "$only" ] && [[ " $only " != *" $sc "* ]]; then
		return # not run
	fi
	ratio="–"
	if [ -n "$mq" ] && [ -n "$mg" ]; then
		ratio=$(awk -v a="$mg" -v b="$mq" 'BEGIN { if (b != 0) printf "%.2f", a / b; else print "–" }')
	fi
	# shellcheck disable=SC2059 # fmt is the figure's format
	printf "%-22s %-26s %14s %14s %10s\n" "$sc" "$label" \
		"$([ -n "$mq" ] && printf "$fmt" "$mq" || echo –)" \
		"$([ -n "$mg" ] && printf "$fmt" "$mg" || echo "$missing")" "$ratio"
}

echo
printf "%-22s %-26s %14s %14s %10s\n" scenario figure mosquitto midge midge/mosq
for sc in fanin-qos0 fanout-qos0 fanin-qos1; do
	row "$sc" "received msg/s" '.messages.received_per_s' '%.0f'
	row "$sc" "sent msg/s" '.messages.sent_per_s' '%.0f'
	row "$sc" "loss %" '.messages.loss_pct' '%.3f'
	row "$sc" "latency p50 µs" '.latency_us.p50' '%.0f'
	row "$sc" "latency p99 µs" '.latency_us.p99' '%.0f'
	row "$sc" "broker CPU µs/msg" '.broker.cpu_us_per_msg' '%.2f'
	row "$sc" "broker cores" '.broker.cores' '%.2f'
	row "$sc" "generator cores" '.generator.cores' '%.2f'
	row "$sc" "other work cores" '.machine.others' '%.2f'
done
row idle "connections alive" '.idle.alive' '%.0f'
row idle "connects/s" '.idle.connect_per_s' '%.0f'
row idle "broker RSS KiB/conn" '.broker.rss_per_conn / 1024' '%.2f'
row idle "broker RSS MiB after" '.broker.rss_after / 1048576' '%.1f'
row idle "broker cores (hold)" '.broker.cores' '%.3f'
row idle "generator cores (hold)" '.generator.cores' '%.3f'
row idle "other work cores" '.machine.others' '%.2f'
if [ -z "${ran[midge]:-}" ] && [[ " $brokers " == *" midge "* ]]; then
	echo
	echo "midge: skipped: $(cat "$work/midge.why" 2>/dev/null || echo "not run")"
fi
echo
echo "\"other work cores\" is CPU that neither the broker nor the generator used during the run"
echo "(other processes, kernel threads): above $busy, throughput and latency are not the broker's own."
