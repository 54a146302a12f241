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

.PHONY: all build run test vet lint staticcheck bench bench-senml bench-ingest bench-store bench-mqtt bench-connections fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/vigil

# Run Vigil with a demo fleet on embedded defaults (NATS JetStream, SQLite) in ./vigil-data.
run: build
	VIGIL_DATA=$${VIGIL_DATA:-vigil-data} $(BIN) serve --demo

# Every test: vet, staticcheck, and the whole suite with the race detector, against the real
# PostgreSQL and NATS on this machine.
test: vet staticcheck
	$(GO) test -race -count=1 -timeout 25m ./...

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

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeJSON -fuzztime 30s ./internal/senml/
	$(GO) test -run '^$$' -fuzz FuzzDecodeCBOR -fuzztime 30s ./internal/senml/
	$(GO) test -run '^$$' -fuzz FuzzDecodeGroup -fuzztime 30s ./internal/stream/

clean:
	rm -rf bin
