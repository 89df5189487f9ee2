# jsruntime: `make run` sets everything up and runs the demo; `make test` runs every test.
PG_CONFIG := /usr/lib/postgresql/15/bin/pg_config
# in postgres's home: initdb runs as postgres, who may not reach this checkout
DEMO_DIR  := /var/lib/postgresql/jsrt-demo
DEMO_PORT := 28815
DEMO_DB   := jsrt

.PHONY: setup console install run stop test lint unit types pgtest regress bench crash fuzz

setup:
	scripts/setup.sh

# The web console (console/): npm packages pinned in its lockfile, built into console/dist.
console: setup
	cd console && npm ci --no-audit --no-fund --silent && node build.mjs

# Never over a library a running server has mapped (that crashes it): see scripts/install.sh.
install: setup console
	scripts/install.sh

# A local cluster with the extension preloaded, example scripts, and their output.
run: install
	scripts/cluster.sh stop $(DEMO_DIR)
	scripts/cluster.sh start $(DEMO_DIR) $(DEMO_PORT) $(DEMO_DB)
	psql -X -q -h /tmp -p $(DEMO_PORT) -U postgres $(DEMO_DB) -f examples/demo.sql
	@echo
	@echo "Connect with:  psql -h /tmp -p $(DEMO_PORT) -U postgres $(DEMO_DB)"
	@echo "HTTP endpoints: http://127.0.0.1:$$(($(DEMO_PORT) + 1000))/  (try /healthz)"
	@echo "Stop with:     make stop"

stop:
	scripts/cluster.sh stop $(DEMO_DIR)

# Pure modules, the type declarations, in-database pgrx tests, then the pg_regress suite.
# pgtest installs a test build; install puts the release build back before regress.
test: setup lint unit types pgtest install regress

# Formatting, clippy, a SAFETY note on every unsafe block, and released SQL unchanged.
lint:
	cargo fmt --all --check
	cargo clippy --workspace --tests -- -D warnings
	scripts/check-safety.py
	scripts/check-released.sh

unit:
	# the pg_* tests need a cluster: pgtest runs them
	cargo test --lib -- --skip tests::tests::pg_

types:
	tests/types/check.sh

pgtest:
	rm -rf /tmp/jsrt-pgrx-test
	scripts/install.sh detach
	cargo pgrx test pg15 --runas postgres --pgdata /tmp/jsrt-pgrx-test

regress:
	scripts/regress.sh

bench: install
	bench/run.sh
	bench/queue.sh
	bench/cron.sh
	bench/http.sh
	bench/endpoints.sh
	bench/neighbour.sh

# The crash campaign (not in `make test`, which runs a short one): 10,000
# queued runs over 50 tenants, an executor killed with kill -9 every 5 s for
# 2 minutes, on a cluster of its own (RUNS, TENANTS, DURATION, EVERY, WORK_MS).
crash: install
	scripts/crash.sh

# The long fuzz campaign (make test runs a short one): the HTTP request parser
# over 200,000 generated inputs, then sqlsmith (10 loops of 2,000 queries) and
# the ctx and SQL API fuzzers on a cluster of their own (scripts/fuzz.sh).
fuzz: install
	JSRT_FUZZ_CASES=200000 cargo test --lib http::request_fuzz
	scripts/fuzz.sh
