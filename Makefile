# Build, run and test tenantgraph. Every target works from a fresh clone:
# scripts/ensure-postgres.sh finds a PostgreSQL (DATABASE_URL, default
# 127.0.0.1:5432) or starts a throwaway one in .pg/.

GO                 ?= go
BIN                := bin/tenantgraph
LISTEN_ADDR        ?= 127.0.0.1:8080
TEST_DB            ?= tenantgraph_test
TEST_FLAGS         ?= -race -count=1 -timeout 30m
# staticcheck 2026.2.2, which supports Go 1.26.
STATICCHECK_VERSION ?= v0.8.2

# The Go files gofmt checks: ours, not installed packages or the cluster.
GOFILES = $$(find . -name '*.go' -not -path './.git/*' -not -path './.pg/*' \
	-not -path '*/node_modules/*' -not -path './tmp/*')

.PHONY: all build run test lint fmt pg pg-stop clean scale web

all: build

## build: compile the server into bin/tenantgraph
build:
	$(GO) build -o $(BIN) .

## run: PostgreSQL, migrations and demo data, then serve on $(LISTEN_ADDR)
run:
	@url=$$(scripts/ensure-postgres.sh) && \
	export DATABASE_URL="$$url" && \
	echo "DATABASE_URL=$$url" && \
	$(MAKE) --no-print-directory build && \
	$(BIN) migrate && \
	$(BIN) demo && \
	echo && \
	echo "  health:    http://$(LISTEN_ADDR)/healthz" && \
	echo "  ready:     http://$(LISTEN_ADDR)/readyz" && \
	echo "  Mexico:    http://$(LISTEN_ADDR)/country/mx/graphql" && \
	echo "  US:        http://$(LISTEN_ADDR)/country/us/graphql" && \
	echo "  SDL:       http://$(LISTEN_ADDR)/country/mx/schema.graphql" && \
	echo "  GraphiQL:  http://$(LISTEN_ADDR)/country/mx/graphiql" && \
	echo "             http://$(LISTEN_ADDR)/country/us/graphiql" && \
	echo "  admin:     http://$(LISTEN_ADDR)/admin/graphiql" && \
	echo "  sign in:   http://$(LISTEN_ADDR)/login (demo accounts above)" && \
	echo && \
	exec $(BIN) serve --listen-addr $(LISTEN_ADDR)

## test: every package's tests, with the race detector, against $(TEST_DB)
test:
	@# The browser test drives Debian's Chromium; nothing downloads a browser.
	@test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)
	@url=$$(scripts/ensure-postgres.sh $(TEST_DB)) && \
	echo "DATABASE_URL=$$url" && \
	DATABASE_URL="$$url" $(GO) test $(TEST_FLAGS) ./...

## lint: gofmt, go vet and staticcheck
lint:
	@out=$$(gofmt -l $(GOFILES)); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (run make fmt):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## fmt: gofmt every Go file in place
fmt:
	gofmt -w $(GOFILES)

## pg: make sure a PostgreSQL answers and print its DATABASE_URL
pg:
	@scripts/ensure-postgres.sh

## pg-stop: stop the throwaway cluster in .pg/ (if one runs)
pg-stop:
	@scripts/ensure-postgres.sh --stop

## clean: remove build output (not .pg/: run make pg-stop, then rm -rf .pg)
clean:
	rm -rf bin

## bench: tenantgraph vs PostGraphile 5 vs pgbench; results in bench/results/latest.md
# (not part of test; BENCH_DURATION, BENCH_RUNS etc.: see bench/run.sh)
.PHONY: bench
bench:
	GO=$(GO) bench/run.sh

## web: rebuild GraphiQL into web/dist from web/package-lock.json and web/src
# (needs Node.js 20+ and npm; commit web/dist after: go build needs no Node,
# and web's tests fail when web/dist is older than its sources)
.PHONY: web
web:
	cd web && npm ci --ignore-scripts --no-audit --no-fund && node build.mjs

## scale: many-tenant measurements: SCALE_N tenants made in bulk in a fresh
## database tenantgraph_scale, then readiness, first requests, memory,
## migrate and create times (see bench/scale)
SCALE_N ?= 1000
scale: build
	@url=$$(scripts/ensure-postgres.sh) && \
	$(GO) run ./bench/scale -n $(SCALE_N) -bin $(BIN) -database-url "$$url"
