# The project's commands. `make test` is what CI runs (.ci/run).
.PHONY: test run bench fuzz

test:
	./scripts/test.sh

run:
	go run ./cmd/midge

bench:
	go test -run '^$$' -bench . -benchmem ./...

# Longer fuzzing of every target: make fuzz FUZZTIME=5m
fuzz:
	FUZZTIME=$${FUZZTIME:-1m} ./scripts/test.sh
