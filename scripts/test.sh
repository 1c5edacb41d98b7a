#!/usr/bin/env bash
# The whole test run, as CI runs it: formatting, vet, the race-enabled tests,
# a short smoke of every fuzz target, and the interop tests with third-party
# clients (test/interop/run.sh). FUZZTIME sets the smoke's length per target
# (default 3s).
set -euo pipefail
cd "$(dirname "$0")/.."

fuzztime=${FUZZTIME:-3s}

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...

echo "== fuzz smoke ($fuzztime per target)"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "-- $pkg $target"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/midge-fuzz.log 2>&1 || {
			cat /tmp/midge-fuzz.log; exit 1; }
		tail -n 1 /tmp/midge-fuzz.log
	done
done
echo "== interop: third-party clients against the daemon"
# test/interop/run.sh needs mosquitto_pub and mosquitto_sub, and MQTT.js in
# test/interop/node_modules: install what is missing when we can. What is
# still missing, run.sh skips with a SKIP line (in CI, where CI=true, it
# fails instead).
if ! command -v mosquitto_pub >/dev/null || ! command -v mosquitto_sub >/dev/null; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "-- apt-get install mosquitto-clients"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto-clients >/dev/null; } ||
			echo "-- apt-get install mosquitto-clients failed"
	else
		echo "-- mosquitto-clients is missing; installing it needs root and apt-get"
	fi
fi
lock=test/interop/package-lock.json installed=test/interop/node_modules/.package-lock.json
if [ ! -f "$installed" ] || [ "$lock" -nt "$installed" ]; then
	if command -v npm >/dev/null; then
		echo "-- npm ci in test/interop"
		(cd test/interop && npm ci --no-audit --no-fund --loglevel=error) || echo "-- npm ci failed"
	else
		echo "-- MQTT.js is missing; installing it needs npm"
	fi
fi
test/interop/run.sh

echo "== all tests passed"
