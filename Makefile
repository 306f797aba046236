# Herald — the two commands: `make run` and `make test`.
# Both install missing system packages first (CI may run on a fresh machine).

SWIFT        ?= swift
PYTHON       ?= python3
APT_PACKAGES := liburing-dev libssl-dev libzstd-dev zlib1g-dev libhiredis-dev pkg-config
# The browser client's zstd decoder (herald-zstd.wasm, next to the binary):
# libzstd's source package built with clang for wasm32 (Clients/js/zstd/build-wasm.sh).
WASM_APT_PACKAGES := clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev
# Only for `make test`: the browser test drives Debian's Chromium headless.
TEST_APT_PACKAGES := chromium redis-server
AUTOBAHN     ?= ../shared/tools/autobahn
RELEASE_BIN  := .build/release
HERALD_ARGS  ?=

.PHONY: run test deps test-deps apt-install pydeps build build-server wasm build-debug unit swift-client e2e autobahn fuzz fuzz-smoke bench-1m clean

## Build release and start herald with the default configuration.
run: deps build-server
	@$(MAKE) --no-print-directory wasm || echo "herald: the browsers' zstd decoder could not be built (see above): the demo page uses permessage-deflate"
	@echo "herald: demo page  http://127.0.0.1:8080/?topic=demo   (open it, then publish with the curl below)"
	@echo "herald: WebSocket  ws://127.0.0.1:8080/ws?topics=demo"
	@echo "herald: admin API  http://127.0.0.1:8081/v1/stats   (publish: curl -XPOST 'http://127.0.0.1:8081/v1/publish?topic=demo' -d '\"hi\"' -H 'Content-Type: application/json')"
	$(RELEASE_BIN)/herald $(HERALD_ARGS)

## The whole suite: unit tests, end-to-end tests against the real binary, Autobahn.
test: deps test-deps pydeps build unit swift-client fuzz-smoke e2e autobahn

## System packages: installs only what is missing (apt-get; sudo when not root).
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

## What `make test` needs beyond the build: chromium for Tests/e2e/test_browser.py,
## redis-server for the multi-node tests (they start their own; never a system service).
test-deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

## Python packages the end-to-end tests use (the independent client; setuptools
## and wheel build Clients/python in the packaging test without a network).
PY_TEST_PACKAGES := websockets pytest setuptools wheel zstandard
pydeps:
	@$(PYTHON) -c "import websockets, pytest, setuptools, wheel, zstandard" 2>/dev/null || $(PYTHON) -m pip install -q $(PY_TEST_PACKAGES) \
	  || $(PYTHON) -m pip install -q --user --break-system-packages $(PY_TEST_PACKAGES)

build: build-server wasm

build-server:
	$(SWIFT) build -c release --product herald
	$(SWIFT) build -c release --product herald-loadgen

## The browsers' zstd decoder next to the binary (its packages installed first).
wasm:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(WASM_APT_PACKAGES)"
	@$(MAKE) --no-print-directory $(RELEASE_BIN)/herald-zstd.wasm

## herald serves it at /herald-zstd.wasm (the one next to its executable).
$(RELEASE_BIN)/herald-zstd.wasm: Clients/js/zstd/herald_zstd.c Clients/js/zstd/build-wasm.sh
	Clients/js/zstd/build-wasm.sh $@

unit:
	$(SWIFT) test

## The Swift client package (Clients/Swift, its own dependencies): its unit
## tests, and the probe program Tests/e2e/test_swift_client.py drives.
swift-client:
	$(SWIFT) build --package-path Clients/Swift --product herald-swift-probe
	$(SWIFT) test --package-path Clients/Swift

## Then the modules that exercise the admin API again, served by the shards
## (--admin-threads 0; Tests/e2e/test_admin_on_shards.py has its own tests).
E2E_ADMIN_ON_SHARDS := test_admin.py test_auth.py test_batch.py test_hostile_http.py test_pubsub.py \
  test_shutdown.py test_zstd.py
e2e:
	HERALD_REQUIRE_BROWSER=1 HERALD_REQUIRE_SWIFT_CLIENT=1 HERALD_BIN=$(RELEASE_BIN)/herald HERALD_LOADGEN_BIN=$(RELEASE_BIN)/herald-loadgen \
	  $(PYTHON) -m pytest -q Tests/e2e
	HERALD_E2E_ADMIN_THREADS=0 HERALD_BIN=$(RELEASE_BIN)/herald HERALD_LOADGEN_BIN=$(RELEASE_BIN)/herald-loadgen \
	  $(PYTHON) -m pytest -q $(addprefix Tests/e2e/,$(E2E_ADMIN_ON_SHARDS))

## libFuzzer harnesses for every network parser (Tests/Fuzz): FUZZ_SECONDS each.
FUZZ_SECONDS ?= 300
fuzz:
	Tests/Fuzz/fuzz.sh $(FUZZ_SECONDS)

## The same harnesses for a few seconds each on their committed corpus (part of `make test`).
fuzz-smoke:
	Tests/Fuzz/fuzz.sh 4

## Autobahn|Testsuite cases 1-7 and 10 against /echo (skipped when the tool is absent).
autobahn:
	@if [ -x "$(AUTOBAHN)" ]; then \
	  Tests/autobahn.sh "$(AUTOBAHN)" $(RELEASE_BIN)/herald && \
	  AUTOBAHN_TLS=1 Tests/autobahn.sh "$(AUTOBAHN)" $(RELEASE_BIN)/herald; \
	else echo "autobahn: $(AUTOBAHN) not found, skipped"; fi

## One million subscribed connections on this machine, a broadcast to all
## of them, the report in LoadGen/bench-1m.json (sets sysctls: see Docs/OPERATIONS.md).
bench-1m: deps
	LoadGen/bench-1m.sh

clean:
	rm -rf .build .build-* .build-fuzz
