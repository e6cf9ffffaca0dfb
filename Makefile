# zwsd — one non-recursive Makefile. `make` installs missing Debian packages
# (scripts/deps.sh), then builds everything into build/.
#   make            build zwsd, zwsd-broker, zwsd-send, zwsd-loadgen
#   make run        start zwsd with the embedded broker on :8080, and its
#                   demo page at http://127.0.0.1:8080/
#   make test       unit tests, end-to-end tests, man page lint
#   make test-asan  the same under AddressSanitizer, LeakSanitizer and UBSan
#   make fuzz       libFuzzer targets (clang) in build/fuzz/, FUZZ_SECONDS (60)
#                   each; `make test` runs them FUZZ_TEST_SECONDS (10) each
#   make install    binaries, man pages, systemd units (PREFIX, DESTDIR)

PREFIX   ?= /usr/local
BUILD    ?= build
CC       ?= cc
OPT      ?= -O2
CFLAGS   += -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror \
            -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wpointer-arith \
            -Wcast-qual -MMD -MP -Iproto -Ibroker -Idaemon
LDLIBS   += -lzmq -lczmq -lwslay -lmsgpackc -ljansson -lhttp_parser -lcrypto \
            -ljwt -lsystemd -lm

PROTO_SRC   := $(wildcard proto/*.c)
BROKER_SRC  := $(filter-out broker/main.c broker/send.c,$(wildcard broker/*.c))
DAEMON_SRC  := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
UNIT_SRC    := $(wildcard test/unit/test_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

PROGS := $(BUILD)/zwsd $(BUILD)/zwsd-broker $(BUILD)/zwsd-send $(if $(wildcard scripts/loadgen/main.c),$(BUILD)/zwsd-loadgen)
UNITS := $(patsubst test/unit/%.c,$(BUILD)/test/%,$(UNIT_SRC))

all: $(BUILD)/.deps $(PROGS)

$(BUILD)/.deps: scripts/deps.sh test/browser/package.json
	@mkdir -p $(BUILD)
	@sh scripts/deps.sh
	@touch $@

$(BUILD)/%.o: %.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libproto.a: $(call obj,$(PROTO_SRC))
	rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/libbroker.a: $(call obj,$(BROKER_SRC))
	rm -f $@ && $(AR) rcs $@ $^
$(BUILD)/libdaemon.a: $(call obj,$(DAEMON_SRC)) $(BUILD)/gen/demo_assets.o
	rm -f $@ && $(AR) rcs $@ $^

# The demo page (--demo on, daemon/demo.h) is embedded in the binary: each
# file of demo/ becomes a C array demo_<name> (dots as _) and its size
# demo_<name>_len, written with od and sed (coreutils, always present).
DEMO_ASSETS := demo/index.html demo/demo.css demo/demo.js demo/favicon.svg
$(BUILD)/gen/demo_assets.c: $(DEMO_ASSETS) Makefile
	@mkdir -p $(dir $@)
	@{ echo '/* generated from demo/ by the Makefile: do not edit */'; \
	   echo '#include "demo.h"'; \
	   for f in $(DEMO_ASSETS); do \
	       n=demo_$$(basename $$f | tr '.-' '__'); \
	       echo "const unsigned char $$n[] = {"; \
	       od -An -v -tx1 $$f | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	       echo "};"; \
	       echo "const size_t $${n}_len = sizeof $$n;"; \
	   done; } > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/demo_assets.o: $(BUILD)/gen/demo_assets.c
	$(CC) $(CFLAGS) -c $< -o $@

LIBS := $(BUILD)/libdaemon.a $(BUILD)/libbroker.a $(BUILD)/libproto.a

$(BUILD)/zwsd: $(BUILD)/daemon/main.o $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/zwsd-broker: $(BUILD)/broker/main.o $(BUILD)/libbroker.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/zwsd-send: $(BUILD)/broker/send.o $(BUILD)/libbroker.a $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/zwsd-loadgen: $(call obj,$(wildcard scripts/loadgen/*.c)) $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test/%: $(BUILD)/test/unit/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

units: $(UNITS)

run: all
	$(BUILD)/zwsd --runtime-dir $${ZWSD_RUNTIME_DIR:-/tmp/zwsd-run-$$(id -u)} --demo on -v

test: all $(UNITS)
	@sh test/run.sh $(BUILD)

# ASan/LSan + UBSan build in its own tree (ASAN_BUILD); the unit and e2e
# suites run against it. Undefined behaviour is fatal (no recovery), so a
# report fails the test that caused it, as an ASan report does. A small
# quarantine keeps RSS meaningful for the tests that bound memory. UBSan's
# checks blur GCC's value ranges into false -Wformat-truncation reports
# (a bounded `%03d` of 0..999), so that one warning is left to `make`.
ASAN_BUILD ?= build-asan
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined
test-asan:
	ASAN_OPTIONS=allocator_may_return_null=1:quarantine_size_mb=16 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) BUILD=$(ASAN_BUILD) \
	        OPT="-O1 $(SAN_FLAGS) -fno-omit-frame-pointer -Wno-format-truncation" \
	        LDFLAGS="$(SAN_FLAGS)" test

# libFuzzer targets, test/fuzz/fuzz_<name>.c, built with clang
# (-fsanitize=fuzzer,address,undefined) into $(BUILD)/fuzz/: the sources they
# need are compiled again there with coverage instrumentation, so the gcc
# objects in $(BUILD) are untouched. `make fuzz` runs each target for
# FUZZ_SECONDS; `make test` runs each for FUZZ_TEST_SECONDS (0: skip), one
# test per target (test/run.sh). test-asan skips them: they are ASan/UBSan
# builds already, and build-asan would only rerun the same binaries.
# test/fuzz/run.sh has the -max_len of each; `make fuzz-seeds` rewrites the
# seed corpora in test/fuzz/corpus/ (reproducers kept there stay).
FUZZ_CC           ?= clang
FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 10
FUZZ_TARGETS      ?= handshake client_json wsframe envelope
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
               -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
               -Wpointer-arith -Wcast-qual -MMD -MP -Iproto -Idaemon -Itest/fuzz
# the pure daemon modules under test and what they use (httphead: handshake.c)
FUZZ_SRC    := $(PROTO_SRC) $(wildcard daemon/handshake.c daemon/httphead.c daemon/wsframe.c)
FUZZ_LIBS   := -lmsgpackc -ljansson -lhttp_parser -lcrypto
FUZZ_BINS   := $(patsubst %,$(BUILD)/fuzz/fuzz_%,$(FUZZ_TARGETS))

$(BUILD)/fuzz/%.o: %.c | $(BUILD)/.deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/fuzz/libfuzz.a: $(patsubst %.c,$(BUILD)/fuzz/%.o,$(FUZZ_SRC))
	$(AR) rcs $@ $^
$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/test/fuzz/fuzz_%.o $(BUILD)/fuzz/libfuzz.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)
$(BUILD)/fuzz/seeds: $(BUILD)/fuzz/test/fuzz/seeds.o $(BUILD)/fuzz/libfuzz.a
	$(FUZZ_CC) $(FUZZ_SAN) -o $@ $^ $(FUZZ_LIBS)

fuzz: $(BUILD)/.deps $(FUZZ_BINS)
	@sh test/fuzz/run.sh $(BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)
fuzz-seeds: $(BUILD)/fuzz/seeds
	$(BUILD)/fuzz/seeds test/fuzz/corpus

export FUZZ_TEST_SECONDS FUZZ_TARGETS
test: $(if $(filter-out 0,$(FUZZ_TEST_SECONDS)),$(FUZZ_BINS))
test-asan: export FUZZ_TEST_SECONDS := 0
.PHONY: fuzz fuzz-seeds

lint:
	mandoc -Tlint -Wwarning man/*.[1-9]

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	           $(DESTDIR)$(PREFIX)/share/man/man7 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	for p in man/*.1; do [ -e "$$p" ] && install -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man1/; done; true
	for p in man/*.7; do [ -e "$$p" ] && install -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man7/; done; true
	for p in man/*.8; do [ -e "$$p" ] && install -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man8/; done; true
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/etc/default
	install -m 0644 dist/zwsd.service dist/zwsd-broker.service dist/zwsd-broker@.service \
	    $(DESTDIR)/etc/systemd/system/
	[ -e $(DESTDIR)/etc/default/zwsd ] || install -m 0644 dist/zwsd.default $(DESTDIR)/etc/default/zwsd

# ---- benchmarks (issue 16): the bus-only microbenchmark, the reference relay, the report.
# `make bench` runs every scenario (scripts/bench-report.sh) and rewrites the generated part
# of BENCHMARKS.md and bench/plots/*.png; BENCH_QUICK=1 is a short smoke run, BENCH_LABEL a
# line printed under the report's title (say, "smoke run on a busy shared box").
BENCH_PROGS := $(BUILD)/bench-bus $(BUILD)/zwsd-relay
all: $(BENCH_PROGS)
$(BUILD)/bench-bus: $(BUILD)/scripts/bench-bus.o $(BUILD)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/zwsd-relay: $(BUILD)/scripts/relay.o
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypto
bench: all
	ZWSD_BUILD=$(abspath $(BUILD)) bash scripts/bench-report.sh $(if $(filter-out 0,$(BENCH_QUICK)),--quick) \
	    $(if $(BENCH_LABEL),--label "$(BENCH_LABEL)")
.PHONY: bench
# `make bench-broker` (issue 19): one broker shard alone, pinned to one core
# (scripts/bench-broker.sh): chats/s, memory per subscription and latency from 1,000 to
# 1,000,000 subscriptions, history on and off; about 15 minutes. BENCH_BROKER_ARGS: more
# options of the script (say "--subs 1000,100000 --reps 1" for a short run). It needs only
# the broker and bench-bus, not zwsd.
bench-broker: $(BUILD)/zwsd-broker $(BUILD)/bench-bus
	ZWSD_BUILD=$(abspath $(BUILD)) bash scripts/bench-broker.sh $(BENCH_BROKER_ARGS)
.PHONY: bench-broker
# ---- end of the benchmark block

clean:
	rm -rf build build-asan

.PHONY: all run test test-asan lint install clean units
.SECONDARY:
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
