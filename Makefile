# Makefile -- libicexec (GNU make 4.x).
#
#   make                  build/libicexec.a and build/libicexec.so (+ symlinks)
#   make check            build everything, run every test; non-zero on any failure
#   make check SANITIZE=1 the same with clang ASan+UBSan, into build-san/
#   make demo             a short drun script (icexec-drun), then examples/demo on the
#                         shared benchmark modules
#   make install PREFIX=/dir [DESTDIR=...]   header, libraries, icexec.pc, icexec-drun
#   make clean
#   make help             every target
#
# Conventions for the other parts of the tree (see docs/building.md):
#   lib/*.c               all compiled into the library (wildcard)
#   tests/unit_*.c        one cmocka program each, may include lib/ headers
#   tests/api_*.c         one cmocka program each, public header only
#   tests/helpers*.c      linked into every unit/api test program (optional)
#   tests/wat/NAME.wat    built to $(BUILD)/wat/NAME.wasm before the tests run;
#                         tests see -DICX_TEST_WASM_DIR="$(BUILD)/wat"
#   tests/spec_*.c        linked together into $(BUILD)/spec_runner
#   bench/bench.mk, fuzz/fuzz.mk   optional fragments included below; they may
#                         use BUILD, CC, CPPFLAGS, CFLAGS, LDFLAGS, LDLIBS,
#                         LIB_A, LIB_OBJS, SHARED, SAN_FLAGS, and append to
#                         CHECK_EXTRA (targets that make check runs), to
#                         FUZZ_SMOKE_DEPS (set it to fuzz-smoke) and CLEAN_EXTRA.

SHELL := /bin/sh
.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:
.SECONDARY:

# ---- version (single source: include/icexec.h) ----------------------------
hdr_define = $(shell sed -n 's/^\#define ICX_VERSION_$(1) *\(.*\)$$/\1/p' include/icexec.h)
VERSION_MAJOR := $(call hdr_define,MAJOR)
VERSION_MINOR := $(call hdr_define,MINOR)
VERSION_PATCH := $(call hdr_define,PATCH)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

# ---- configuration --------------------------------------------------------
SHARED ?= ../shared
SANITIZE ?= 0
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=
TEST_TIMEOUT ?= 600
WAT2WASM ?= wat2wasm
WAT2WASM_FLAGS ?= --enable-memory64
VALGRIND ?= valgrind

ifeq ($(origin CC),default)
CC := gcc
endif
ifeq ($(origin CXX),default)
CXX := g++
endif

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS := -Iinclude -Ilib
CFLAGS := -std=c11 -g -fPIC -fvisibility=hidden $(WARNINGS)
LDFLAGS :=
LDLIBS := -lsodium -lb2 -lz -lm -lpthread

ifeq ($(SANITIZE),1)
CC := clang
CXX := clang++
BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS += -O1 $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
SO_LDFLAGS :=
export ASAN_OPTIONS ?= abort_on_error=1:detect_leaks=1:strict_string_checks=1
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1
else ifeq ($(SANITIZE),thread)
CC := clang
CXX := clang++
BUILD ?= build-tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
CFLAGS += -O1 $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
SO_LDFLAGS :=
export TSAN_OPTIONS ?= halt_on_error=1:second_deadlock_stack=1
else
BUILD ?= build
SAN_FLAGS :=
CFLAGS += -O2
SO_LDFLAGS := -Wl,-z,defs -Wl,-z,relro -Wl,-z,now
endif
# Additions from the command line come last.
CPPFLAGS += $(EXTRA_CPPFLAGS)
CFLAGS += $(EXTRA_CFLAGS)
LDFLAGS += $(EXTRA_LDFLAGS)

# ---- dependencies (scripts/deps.sh; once per top-level make) --------------
NODEPS_GOALS := clean help uninstall
ifeq ($(MAKELEVEL),0)
ifneq ($(ICX_SKIP_DEPS),1)
ifneq ($(filter-out $(NODEPS_GOALS),$(or $(MAKECMDGOALS),all)),)
DEPS_RC := $(shell sh scripts/deps.sh 1>&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error scripts/deps.sh failed (status $(DEPS_RC)); set ICX_SKIP_DEPS=1 to skip the check)
endif
endif
endif
endif

# ---- library --------------------------------------------------------------
LIB_SRCS := $(sort $(wildcard lib/*.c))
OBJDIR := $(BUILD)/obj
LIB_OBJS := $(patsubst lib/%.c,$(OBJDIR)/lib/%.o,$(LIB_SRCS))
LIB_A := $(BUILD)/libicexec.a
SONAME := libicexec.so.$(VERSION_MAJOR)
SO_REAL := libicexec.so.$(VERSION)
LIB_SO := $(BUILD)/libicexec.so
LIB_SO_FILES := $(BUILD)/$(SO_REAL) $(BUILD)/$(SONAME) $(LIB_SO)

# ---- tests, examples ------------------------------------------------------
TEST_SRCS := $(sort $(wildcard tests/unit_*.c tests/api_*.c))
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
TEST_HELPER_SRCS := $(sort $(wildcard tests/helpers*.c))
TEST_HELPER_OBJS := $(patsubst tests/%.c,$(OBJDIR)/tests/%.o,$(TEST_HELPER_SRCS))
TEST_CPPFLAGS := -DICX_TEST_WASM_DIR=\"$(BUILD)/wat\" -DICX_SHARED_DIR=\"$(SHARED)\"
TEST_LIBS := -lcmocka
WAT_SRCS := $(sort $(wildcard tests/wat/*.wat))
WAT_WASMS := $(patsubst tests/wat/%.wat,$(BUILD)/wat/%.wasm,$(WAT_SRCS))

SPEC_SRCS := $(sort $(wildcard tests/spec_*.c))
SPEC_OBJS := $(patsubst tests/%.c,$(OBJDIR)/tests/%.o,$(SPEC_SRCS))
SPEC_RUNNER := $(if $(wildcard tests/spec_runner.c),$(BUILD)/spec_runner)
SPEC_OUT := $(BUILD)/spec
SPEC_FLAGS ?= $(if $(wildcard tests/spec_skip.txt),--skip tests/spec_skip.txt)

EXAMPLE_SRCS := $(sort $(wildcard examples/*.c))
EXAMPLE_BINS := $(patsubst examples/%.c,$(BUILD)/examples/%,$(EXAMPLE_SRCS))
DEMO := $(BUILD)/examples/demo
DEMO_WASM := $(SHARED)/bench/wasm

CHECK_DIR := $(BUILD)/check
RUN_TEST := sh scripts/run-test.sh $(CHECK_DIR) $(TEST_TIMEOUT)

# Fragments append to these.
CHECK_EXTRA := wast-check switch-check tsan-check docs-check
FUZZ_SMOKE_DEPS :=
CLEAN_EXTRA :=

.PHONY: all lib tests examples check check-build asan valgrind spec demo switch-check wast-check tsan-check docs-check \
        abi-check header-check install-check install uninstall clean help

all: $(LIB_A) $(LIB_SO_FILES)
lib: all
tests: $(TEST_BINS) $(SPEC_RUNNER) $(WAT_WASMS)
examples: $(EXAMPLE_BINS)

-include $(sort $(wildcard bench/*.mk)) fuzz/fuzz.mk $(sort $(wildcard tests/*.mk)) $(sort $(wildcard examples/*.mk))

# ---- rules ----------------------------------------------------------------
$(OBJDIR)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_A): $(LIB_OBJS)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/$(SO_REAL): $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,$(SONAME) $(SO_LDFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/$(SONAME): $(BUILD)/$(SO_REAL)
	ln -sf $(SO_REAL) $@

$(LIB_SO): $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

$(OBJDIR)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(TEST_CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/%: $(OBJDIR)/tests/%.o $(TEST_HELPER_OBJS) $(LIB_A) | $(WAT_WASMS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_HELPER_OBJS) $(LIB_A) $(TEST_LIBS) $(LDLIBS)

$(BUILD)/spec_runner: $(SPEC_OBJS) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(SPEC_OBJS) $(LIB_A) $(LDLIBS)

$(BUILD)/wat/%.wasm: tests/wat/%.wat
	@mkdir -p $(@D)
	$(WAT2WASM) $(WAT2WASM_FLAGS) -o $@ $<

$(OBJDIR)/examples/%.o: examples/%.c
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/examples/%: $(OBJDIR)/examples/%.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

-include $(wildcard $(OBJDIR)/*/*.d)

# ---- check ----------------------------------------------------------------
check-build: all tests examples

# Every step runs (a failure does not stop the others); the last line is
# "check: N passed, M failed" and the status is non-zero if M > 0.
check: check-build
	@rm -rf $(CHECK_DIR) && mkdir -p $(CHECK_DIR)
	@for t in $(TEST_BINS); do $(RUN_TEST) $${t##*/} $$t; done
	@$(if $(SPEC_RUNNER),$(RUN_TEST) spec $(MAKE) --no-print-directory spec,echo "== spec: skipped (no tests/spec_runner.c)")
	@$(foreach t,$(FUZZ_SMOKE_DEPS) $(CHECK_EXTRA),$(RUN_TEST) $(t) $(MAKE) --no-print-directory $(t);)
	@$(RUN_TEST) abi-check $(MAKE) --no-print-directory abi-check
	@$(RUN_TEST) header-check $(MAKE) --no-print-directory header-check
	@$(RUN_TEST) install-check $(MAKE) --no-print-directory install-check
	@$(RUN_TEST) examples $(MAKE) --no-print-directory demo
	@sh scripts/check-summary.sh $(CHECK_DIR)

asan:
	$(MAKE) check SANITIZE=1

# Our own .wast scripts (tests/wast/), converted with wast2json (which exits
# 0 even when a module fails, so any output counts as failure) and run by
# the spec runner; then the whole spec suite again with metering compiled in
# (METER instructions must not change any result).
WAST_SRCS := $(sort $(wildcard tests/wast/*.wast))
wast-check: $(SPEC_RUNNER)
	@rm -rf $(BUILD)/wast && mkdir -p $(BUILD)/wast
	@for f in $(WAST_SRCS); do \
	  n=$$(basename $$f .wast); \
	  out=$$(wast2json $$f -o $(BUILD)/wast/$$n.json 2>&1); \
	  if [ -n "$$out" ] || [ ! -f $(BUILD)/wast/$$n.json ]; then echo "wast2json $$f: $$out"; exit 1; fi; \
	done
	$(SPEC_RUNNER) --json-dir $(BUILD)/wast
	$(SPEC_RUNNER) --suite $(SHARED)/testsuite --out $(SPEC_OUT)-meter --meter --quiet-failures
	$(SPEC_RUNNER) --suite $(SHARED)/testsuite --out $(SPEC_OUT)-instr --instrument --quiet-failures

# The other dispatch path (switch instead of computed goto) must give the
# same results: its own build, the interpreter tests and the spec suite.
SWITCH_BUILD := $(BUILD)-switch
switch-check:
	@$(MAKE) --no-print-directory BUILD=$(SWITCH_BUILD) EXTRA_CPPFLAGS=-DICX_USE_JUMPTABLE=0 \
	  $(SWITCH_BUILD)/spec_runner $(SWITCH_BUILD)/tests/unit_exec >/dev/null
	$(SWITCH_BUILD)/tests/unit_exec
	$(SWITCH_BUILD)/spec_runner --suite $(SHARED)/testsuite --out $(SWITCH_BUILD)/spec $(SPEC_FLAGS)

# The tests that run several threads, built with ThreadSanitizer (clang
# -fsanitize=thread): a data race fails the step.
TSAN_BUILD := $(BUILD)-tsan
TSAN_TESTS := $(filter $(patsubst tests/%.c,%,$(wildcard tests/*.c)),api_threads api_query unit_query)
tsan-check:
	@$(MAKE) --no-print-directory BUILD=$(TSAN_BUILD) SANITIZE=thread \
	  $(patsubst %,$(TSAN_BUILD)/tests/%,$(TSAN_TESTS)) >/dev/null
	@set -e; for t in $(TSAN_TESTS); do echo "== tsan $$t"; $(TSAN_BUILD)/tests/$$t; done

valgrind: tests
	@set -e; for t in $(TEST_BINS); do echo "== valgrind $$t"; \
	  $(VALGRIND) -q --error-exitcode=99 --leak-check=full $$t; done

spec: $(SPEC_RUNNER)
	@if [ -z "$(SPEC_RUNNER)" ]; then echo "spec: tests/spec_runner.c does not exist yet"; exit 1; fi
	$(SPEC_RUNNER) --suite $(SHARED)/testsuite --out $(SPEC_OUT) $(SPEC_FLAGS)

demo: $(EXAMPLE_BINS) $(DRUN_DEMO_DEPS)
	$(DRUN_DEMO)
	$(DEMO) $(DEMO_WASM)/fib.wasm run 25
	$(DEMO) $(DEMO_WASM)/sha256.wasm selftest
	$(DEMO) $(DEMO_WASM)/sha256.wasm run 10
	$(BUILD)/examples/embed

abi-check: $(LIB_A) $(LIB_SO_FILES)
	sh tests/check_abi.sh $(BUILD)/$(SO_REAL) $(LIB_A) $(SONAME) docs/abi/symbols.txt \
	  $(if $(filter 1,$(SANITIZE)),sanitized)

docs-check:
	sh tests/check_docs.sh

header-check:
	sh tests/check_header.sh "$(CC)" "$(CXX)" $(BUILD)/header-check

install-check: $(LIB_A) $(LIB_SO_FILES)
	sh tests/check_install.sh "$(MAKE)" "$(CC)" "$(SAN_FLAGS)"

# ---- install --------------------------------------------------------------
install: $(LIB_A) $(LIB_SO_FILES) $(DRUN)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 755 $(DRUN) $(DESTDIR)$(BINDIR)/icexec-drun
	install -m 644 include/icexec.h $(DESTDIR)$(INCLUDEDIR)/icexec.h
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/libicexec.a
	install -m 755 $(BUILD)/$(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SO_REAL)
	ln -sf $(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libicexec.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    pkgconfig/icexec.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/icexec.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/icexec.h $(DESTDIR)$(LIBDIR)/libicexec.a \
	      $(DESTDIR)$(LIBDIR)/$(SO_REAL) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libicexec.so $(DESTDIR)$(PKGCONFIGDIR)/icexec.pc \
	      $(DESTDIR)$(BINDIR)/icexec-drun

clean:
	rm -rf build build-san build-switch build-san-switch build-tsan build-san-tsan $(CLEAN_EXTRA)

help:
	@echo "targets: all (default) check asan valgrind spec demo install uninstall clean"
	@echo "         abi-check header-check install-check tests examples"
	@echo "         $(FUZZ_SMOKE_DEPS) $(CHECK_EXTRA) (from bench/bench.mk, fuzz/fuzz.mk)"
	@echo "options: SANITIZE=1 SHARED=$(SHARED) PREFIX=$(PREFIX) DESTDIR= ICX_SKIP_DEPS=1"
