#!/usr/bin/env bash
# The whole test run, as CI runs it: formatting, vet, the race-enabled tests
# and a short smoke of every fuzz target. FUZZTIME sets the smoke's length per
# target (default 3s).
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
echo "== all tests passed"
