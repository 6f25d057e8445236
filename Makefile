# telefhir — run `make help` for the targets.
GO      ?= go
PKGS    ?= ./...
DATA    ?= ./data

.PHONY: help run test testrace test-examples test-launch lint bench bench-audit bench-search bench-subscriptions build up down generate tidy

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

run: ## run the server on the embedded default (store and NATS under ./data)
	$(GO) run ./cmd/telefhir serve --data $(DATA)

build: ## build bin/telefhir
	$(GO) build -o bin/telefhir ./cmd/telefhir

test: ## run every test (Postgres tests skip when no Postgres is reachable, fail when CI=true)
	$(GO) test $(PKGS)

testrace: ## run every test with the race detector
	$(GO) test -race $(PKGS)

test-examples: ## run the R4 example round-trips over all 5,305 official examples (downloads the npm package once)
	TELEFHIR_R4_EXAMPLES=$$(scripts/fetch-r4-examples.sh) $(GO) test -count=1 -run 'Example' ./fhir/fhirpath ./fhir/resource ./fhir/rest

test-launch: ## SMART launches with fhirclient on Node.js and in headless Chromium (installs e2e/node_modules; needs Debian's chromium)
	cd e2e && npm ci --no-audit --no-fund --loglevel=error
	$(GO) test -count=1 -v ./e2e

lint: ## go vet and gofmt (golangci-lint when installed)
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@if command -v golangci-lint >/dev/null; then golangci-lint run; fi

bench: ## load benchmarks against Postgres and the embedded store, with pgbench yardsticks (writes bench/results/latest.md)
	bash bench/run.sh

bench-audit: ## read and create throughput with the audit trail on and off, with pgbench yardsticks (writes bench/results/audit-latest.md)
	bash bench/audit.sh

bench-search: ## search benchmark over 1M synthetic Observations in Postgres, with query plans (writes bench/results/search-latest.md)
	bash bench/search.sh

bench-subscriptions: ## subscription matching, rest-hook latency and websocket fan-out (writes bench/results/subscriptions-latest.md)
	bash bench/subscriptions.sh

up: ## start Postgres, NATS and telefhir with docker compose
	docker compose up -d --build

down: ## stop the docker compose stack
	docker compose down

tidy: ## go mod tidy
	$(GO) mod tidy
