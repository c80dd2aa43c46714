# gotrail — build, test, benchmark, fuzz, lint.
GO        ?= go
BIN       ?= bin/gotrail
FUZZTIME  ?= 30s
# Debian packages the integration tests drive for real.
TEST_DEBS := auditd rsyslog rsyslog-gnutls logrotate util-linux passwd iproute2 openssl chromium fonts-wqy-microhei

.PHONY: all build test unit deps preflight bench fuzz lint clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/gotrail

# deps installs what the integration tests need when run as root on Debian;
# as another user it only says what is missing (the tests then fail, loudly).
deps:
	@missing=""; for p in $(TEST_DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "missing Debian packages:$$missing (run as root: apt-get install$$missing)" >&2; \
		fi; \
	fi

# test runs every unit and integration test; integration tests fail (never
# skip) when a part they need is missing. They share the host's one auditd
# and kernel rule list, so packages run one at a time (-p 1).
test: deps preflight
	GOTRAIL_INTEGRATION=1 $(GO) test -p 1 -count=1 -timeout 20m ./...
	$(GO) test -race -count=1 ./internal/pipeline ./internal/audit ./internal/event

# preflight stops before the tests when an audit daemon of the host runs: the
# integration tests start their own private auditd, and the kernel takes one
# at a time. They never stop or reconfigure the host's own.
preflight:
	@ctl=$$(command -v auditctl || echo /sbin/auditctl); \
	pid=$$($$ctl -s 2>/dev/null | awk '$$1 == "pid" { print $$2 }'); \
	if [ -n "$$pid" ] && [ "$$pid" != 0 ] && kill -0 "$$pid" 2>/dev/null; then \
		echo "make test: an audit daemon runs (pid $$pid: $$(tr '\0' ' ' < /proc/$$pid/cmdline)). The integration tests start their own and the kernel takes one at a time: stop it (service auditd stop, or systemctl stop auditd), run make test, then start it again." >&2; \
		exit 2; \
	fi

# unit runs what needs no root and no auditd.
unit:
	$(GO) test -count=1 ./...

# Debian packages the benchmarks compare with or measure by.
BENCH_DEBS := auditd laurel time valgrind

bench: build
	@missing=""; for p in $(BENCH_DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	elif [ -n "$$missing" ]; then echo "missing Debian packages:$$missing (their rows are left out)" >&2; fi
	$(GO) test -run '^$$' -bench . -benchmem ./internal/...
	bash bench/run.sh
	GOTRAIL_BENCH=1 GOTRAIL_INTEGRATION=1 $(GO) test -count=1 -v -run . ./bench/live
	$(GO) run ./bench/collected -bin $(BIN) -hosts 1000 -records 1000
	$(GO) run ./bench/collected -bin $(BIN) -hosts 1000 -records 10000

# fuzz_one fuzzes one target, after checking that the package has it: go
# test -fuzz with a pattern that matches nothing passes without fuzzing.
define fuzz_one
	@$(GO) test -list '^$(1)$$' ./$(2) | grep -qx '$(1)' || { echo "make fuzz: no $(1) in ./$(2)" >&2; exit 1; }
	$(GO) test -run '^$$' -fuzz '^$(1)$$' -fuzztime $(FUZZTIME) ./$(2)
endef

fuzz:
	$(call fuzz_one,FuzzParseRecord,internal/audit)
	$(call fuzz_one,FuzzFields,internal/audit)
	$(call fuzz_one,FuzzPipeline,internal/pipeline)
	$(call fuzz_one,FuzzSketchDiff,internal/pipeline)
	$(call fuzz_one,FuzzSplitPartDiff,internal/audit)
	$(call fuzz_one,FuzzSplitPartWantedDiff,internal/audit)
	$(call fuzz_one,FuzzValueEndDiff,internal/audit)
	$(call fuzz_one,FuzzParseUint32Diff,internal/audit)
	$(call fuzz_one,FuzzRecordParserDiff,internal/audit)
	$(call fuzz_one,FuzzAssemblerDiff,internal/audit)
	$(call fuzz_one,FuzzArgIndexDiff,internal/audit)
	$(call fuzz_one,FuzzParseLine,internal/collect)
	$(call fuzz_one,FuzzSplitRecord,internal/trail)
	$(call fuzz_one,FuzzTrailMessages,internal/sink)
	$(call fuzz_one,FuzzDecodeView,internal/report)
	$(call fuzz_one,FuzzSimulate,internal/shellchain)
	$(call fuzz_one,FuzzPamEnv,internal/shellchain)
	$(call fuzz_one,FuzzChecksAgree,internal/shellchain)
	$(call fuzz_one,FuzzExtractTarGz,internal/install)
	$(call fuzz_one,FuzzExtractModuleZip,internal/install)
	@# the rewritten parsers and renderers, each against the one it replaced
	$(call fuzz_one,FuzzKeySetDiff,internal/audit)
	$(call fuzz_one,FuzzAppendRecordDiff,internal/audit)
	$(call fuzz_one,FuzzInterpretDiff,internal/audit)
	$(call fuzz_one,FuzzInterpretFieldDiff,internal/audit)
	$(call fuzz_one,FuzzSplitByShapeDiff,internal/audit)
	$(call fuzz_one,FuzzAppendHexDiff,internal/audit)
	$(call fuzz_one,FuzzDecode,internal/event)
	$(call fuzz_one,FuzzAppendStringDiff,internal/event)
	$(call fuzz_one,FuzzTimestampDiff,internal/event)
	$(call fuzz_one,FuzzPlainButQuotes,internal/event)
	$(call fuzz_one,FuzzAppendSafeDiff,internal/sink)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "not gofmt-clean: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

# screenshot photographs, with Debian's headless Chromium, the report of the
# recorded scenario (a real auditd's log, internal/audit/testdata), for the
# README: docs/report.png.
SCENARIO := internal/audit/testdata/host-activity.log
.PHONY: screenshot
screenshot: build
	@mkdir -p docs
	$(BIN) report --lang en $(SCENARIO) -o docs/.report.html
	chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=$(CURDIR)/bin/.chromium-profile \
		--window-size=1100,2000 --screenshot=docs/report.png file://$(CURDIR)/docs/.report.html
	@rm -f docs/.report.html

clean:
	rm -rf bin
