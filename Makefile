# Vigil — the README's two commands are `make run` and `make test`.
GO       ?= go
BIN      ?= bin/vigil
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
STATICCHECK_VERSION := v0.8.2
# Real services on this machine, used by the tests (see ../shared/services.md).
VIGIL_TEST_POSTGRES ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable
VIGIL_TEST_NATS     ?= nats://127.0.0.1:4222
VIGIL_TEST_MQTT     ?= 127.0.0.1:1883
export VIGIL_TEST_POSTGRES VIGIL_TEST_NATS VIGIL_TEST_MQTT

# The web console (web/): npm ci && npm run build into web/dist, embedded by `go build`. Runs only
# when a source file is newer than the build, and only when npm is installed (otherwise the binary
# serves a page saying how to build the console).
WEB_SRC := $(shell find web/src web/index.html web/package.json web/package-lock.json web/vite.config.ts web/tsconfig.json -type f 2>/dev/null)

.PHONY: all build run test test-web web vet lint staticcheck bench bench-senml bench-ingest bench-store bench-mqtt bench-connections bench-alarm bench-coldchain fuzz clean

all: build

web: web/dist/index.html

web/dist/index.html: $(WEB_SRC)
	@if command -v npm >/dev/null 2>&1; then \
		cd web && { test -d node_modules -a node_modules/.package-lock.json -nt package-lock.json || npm ci --no-audit --no-fund; } && npm run build; \
	else echo "npm not found: the console is not built (the binary serves a placeholder page)"; fi

build: web
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vigil

# Run Vigil with a demo fleet on embedded defaults (NATS JetStream, SQLite) in ./vigil-data.
run: build
	VIGIL_DATA=$${VIGIL_DATA:-vigil-data} $(BIN) serve --demo --mqtt $${VIGIL_MQTT:-127.0.0.1:1884}

# Every test: vet, staticcheck, and the whole suite with the race detector, against the real
# PostgreSQL and NATS on this machine.
test: web vet staticcheck
	$(GO) test -race -count=1 -timeout 25m ./...
	$(MAKE) test-web

# Browser tests: the real binary with the demo fleet, driven through Debian's Chromium.
test-web: build
	cd web && VIGIL_BIN=$(abspath $(BIN)) node --test tests/

vet:
	@test -z "$$(gofmt -l cmd internal)" || (echo "gofmt needed:"; gofmt -l cmd internal; exit 1)
	$(GO) vet ./...

staticcheck:
	@command -v staticcheck >/dev/null 2>&1 || test -x $$($(GO) env GOPATH)/bin/staticcheck || \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck ./...

lint: vet staticcheck

# Benchmarks whose figures the README reports.
bench: bench-senml bench-store bench-ingest

bench-senml:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./internal/senml/

bench-store:
	$(GO) test -run '^$$' -bench 'Buckets24h|InsertReadings' -benchmem ./internal/store/sqlite/ ./internal/store/postgres/

# End-to-end HTTP ingest: the real binary, 50 device clients posting 50-record packs.
bench-ingest: build
	VIGIL_BENCH_INGEST=1 $(GO) test -run '^TestBenchIngestHTTP$$' -count=1 -v -timeout 10m ./cmd/vigil/

# Durable MQTT ingest against this machine's Mosquitto in the same harness (1,000 connections).
bench-mqtt: build
	VIGIL_BENCH_MQTT=1 $(GO) test -run '^TestBenchIngestMQTT$$' -count=1 -v -timeout 20m ./cmd/vigil/

# 10,000 idle device connections: connects/s and Vigil's resident memory.
bench-connections: build
	VIGIL_BENCH_IDLE=1 $(GO) test -run '^TestBenchIdleConnections$$' -count=1 -v -timeout 20m ./cmd/vigil/

# Reading accepted → alarm event on the SSE stream, under the MQTT benchmark's load.
bench-alarm: build
	VIGIL_BENCH_ALARM=1 $(GO) test -run '^TestBenchAlarmLatency$$' -count=1 -v -timeout 20m ./cmd/vigil/

# 10,000 storage units monitored live, one reading per unit per minute: Vigil's CPU share and RSS.
bench-coldchain: build
	VIGIL_BENCH_COLDCHAIN=1 $(GO) test -run '^TestBenchColdChainUnits$$' -count=1 -v -timeout 30m ./cmd/vigil/

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s ./internal/senml/
	$(GO) test -run '^$$' -fuzz FuzzDecodeCBOR -fuzztime 30s ./internal/senml/
	$(GO) test -run '^$$' -fuzz FuzzDecodeGroup -fuzztime 30s ./internal/stream/

clean:
	rm -rf bin
