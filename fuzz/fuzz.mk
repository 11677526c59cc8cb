# fuzz/fuzz.mk -- fuzz targets (included by the top-level Makefile).
#
#   make fuzz         libFuzzer binaries build/fuzz/TARGET (clang, ASan+UBSan) for
#                     TARGET in FUZZ_TARGETS (every fuzz/fuzz_*.c but fuzz_util.c)
#   make fuzz-replay  replay binaries $(BUILD)/fuzz/replay_TARGET (plain
#                     compiler, no libFuzzer) run over fuzz/corpus/TARGET/
#   make fuzz-smoke   both of the above, then each libFuzzer target for at most
#                     FUZZ_SMOKE_RUNS inputs / FUZZ_SMOKE_TIME seconds from its
#                     seed corpus (new inputs go to a temporary directory);
#                     fails on any crash, leak, timeout or sanitizer report.
#                     `make check` depends on it.
#   make fuzz-run FUZZ_TARGET=fuzz_exec FUZZ_TIME=600 [FUZZ_JOBS=2]
#                     a longer session; the growing corpus is kept in
#                     build/fuzz/corpus/TARGET/, crashes in build/fuzz/artifacts/
#
# The library is compiled here straight from lib/*.c (own object directories
# under build/fuzz/), so this file does not depend on the main build's
# objects.  From the top-level Makefile it takes only CC and SAN_FLAGS (for
# the replay binaries: `make check SANITIZE=1` replays under ASan+UBSan),
# LDLIBS and BUILD, and it appends fuzz-smoke to FUZZ_SMOKE_DEPS (the targets
# `make check` runs).
# Variables: FUZZ_CC (clang), FUZZ_CFLAGS, FUZZ_SAN, FUZZ_REPLAY_CC ($(CC)),
# FUZZ_REPLAY_CFLAGS, FUZZ_REPLAY_SAN ($(SAN_FLAGS)), FUZZ_LDLIBS,
# FUZZ_SMOKE_RUNS, FUZZ_SMOKE_TIME.

# every fuzz/fuzz_*.c except the support file is a target
FUZZ_TARGETS := $(filter-out fuzz_util,$(sort $(basename $(notdir $(wildcard fuzz/fuzz_*.c)))))
FUZZ_BUILD ?= build/fuzz
FUZZ_CC ?= clang
FUZZ_SAN ?= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
FUZZ_CFLAGS ?= -std=c11 -O1 -g -fno-omit-frame-pointer
FUZZ_CPPFLAGS := -Iinclude -Ilib -Ifuzz
FUZZ_REPLAY_CC ?= $(if $(filter default,$(origin CC)),gcc,$(CC))
FUZZ_REPLAY_CFLAGS ?= -std=c11 -O2 -g $(FUZZ_WARN)
FUZZ_REPLAY_SAN ?= $(SAN_FLAGS)
FUZZ_LDLIBS ?= $(if $(LDLIBS),$(LDLIBS),-lm)
FUZZ_SMOKE_RUNS ?= 200000
FUZZ_SMOKE_TIME ?= 20
# a fixed seed: the smoke run explores the same inputs every time (up to its
# time limit), so a failure in CI reproduces with the same command
FUZZ_SMOKE_SEED ?= 1
FUZZ_TIME ?= 600
FUZZ_JOBS ?= 1
FUZZ_TARGET ?= fuzz_wasm_decode
FUZZ_OPTS := -timeout=25 -rss_limit_mb=2560 -max_len=8192

FUZZ_LIB_SRCS := $(wildcard lib/*.c)
# support objects per target (besides fuzz/TARGET.c)
FUZZ_EXTRA_fuzz_wasm_decode := fuzz_util
FUZZ_EXTRA_fuzz_exec := fuzz_util wasm_gen
FUZZ_EXTRA_fuzz_wat := fuzz_util
FUZZ_EXTRA_fuzz_candid := fuzz_util
FUZZ_EXTRA_fuzz_principal := fuzz_util
FUZZ_EXTRA_fuzz_instrument := fuzz_util
FUZZ_EXTRA_fuzz_ckpt := fuzz_util
FUZZ_EXTRA_fuzz_mgmt := fuzz_util
FUZZ_EXTRA_fuzz_canister := fuzz_util
FUZZ_EXTRA_fuzz_round := fuzz_util
FUZZ_EXTRA_fuzz_query := fuzz_util

FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
# replay binaries follow BUILD (build-san/ under SANITIZE=1)
FUZZ_RBUILD := $(or $(BUILD),build)/fuzz
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=$(FUZZ_RBUILD)/replay_%)
FUZZ_SMOKE_DEPS += fuzz-smoke

# libFuzzer build: coverage-instrumented, sanitized objects in obj/
FUZZ_OBJ := $(FUZZ_BUILD)/obj
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:lib/%.c=$(FUZZ_OBJ)/lib/%.o)
# replay build: plain objects in robj/
FUZZ_ROBJ := $(FUZZ_RBUILD)/robj
FUZZ_RLIB_OBJS := $(FUZZ_LIB_SRCS:lib/%.c=$(FUZZ_ROBJ)/lib/%.o)

.PHONY: fuzz fuzz-replay fuzz-smoke fuzz-run
fuzz: $(FUZZ_BINS)

# lib/ is compiled without -Werror here: a clang-only warning in lib/ should
# not break the fuzz build (the main build enforces -Werror with gcc).
$(FUZZ_OBJ)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	  $(FUZZ_CPPFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_OBJ)/fuzz/%.o: fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_WARN) -Werror $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
	  $(FUZZ_CPPFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_ROBJ)/lib/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_REPLAY_CC) $(FUZZ_REPLAY_CFLAGS) $(FUZZ_REPLAY_SAN) $(FUZZ_CPPFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_ROBJ)/fuzz/%.o: fuzz/%.c
	@mkdir -p $(@D)
	$(FUZZ_REPLAY_CC) $(FUZZ_REPLAY_CFLAGS) -Werror $(FUZZ_REPLAY_SAN) $(FUZZ_CPPFLAGS) \
	  -MMD -MP -c -o $@ $<

-include $(wildcard $(FUZZ_OBJ)/*/*.d $(FUZZ_ROBJ)/*/*.d)

# fuzz_canister embeds the universal test canister: $(BUILD)/canisters/uc.wasm
# (rule in tests/canisters.mk, clang --target=wasm32) becomes a C array in
# $(FUZZ_GEN)/uc_wasm.h, so the fuzz binaries need no file at run time.
FUZZ_UC_WASM := $(or $(BUILD),build)/canisters/uc.wasm
FUZZ_GEN := $(FUZZ_RBUILD)/gen
$(FUZZ_GEN)/uc_wasm.h: $(FUZZ_UC_WASM) fuzz/fuzz.mk
	@mkdir -p $(@D)
	{ echo '/* generated from $< by fuzz/fuzz.mk */'; \
	  echo 'static const unsigned char uc_wasm[] = {'; xxd -i < $<; echo '};'; } > $@.tmp
	mv $@.tmp $@
$(FUZZ_OBJ)/fuzz/fuzz_canister.o $(FUZZ_ROBJ)/fuzz/fuzz_canister.o: $(FUZZ_GEN)/uc_wasm.h
$(FUZZ_OBJ)/fuzz/fuzz_canister.o $(FUZZ_ROBJ)/fuzz/fuzz_canister.o: FUZZ_CPPFLAGS += -I$(FUZZ_GEN)
$(FUZZ_OBJ)/fuzz/fuzz_round.o $(FUZZ_ROBJ)/fuzz/fuzz_round.o: $(FUZZ_GEN)/uc_wasm.h
$(FUZZ_OBJ)/fuzz/fuzz_round.o $(FUZZ_ROBJ)/fuzz/fuzz_round.o: FUZZ_CPPFLAGS += -I$(FUZZ_GEN)
$(FUZZ_OBJ)/fuzz/fuzz_query.o $(FUZZ_ROBJ)/fuzz/fuzz_query.o: $(FUZZ_GEN)/uc_wasm.h
$(FUZZ_OBJ)/fuzz/fuzz_query.o $(FUZZ_ROBJ)/fuzz/fuzz_query.o: FUZZ_CPPFLAGS += -I$(FUZZ_GEN)

# one link rule per target: the libFuzzer binary and the replay binary
define FUZZ_LINK_RULES
$(FUZZ_BUILD)/$(1): $(FUZZ_OBJ)/fuzz/$(1).o $(FUZZ_EXTRA_$(1):%=$(FUZZ_OBJ)/fuzz/%.o) $(FUZZ_LIB_OBJS)
	$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(FUZZ_LDLIBS)

$(FUZZ_RBUILD)/replay_$(1): $(FUZZ_ROBJ)/fuzz/replay.o $(FUZZ_ROBJ)/fuzz/$(1).o \
    $(FUZZ_EXTRA_$(1):%=$(FUZZ_ROBJ)/fuzz/%.o) $(FUZZ_RLIB_OBJS)
	$$(FUZZ_REPLAY_CC) $$(FUZZ_REPLAY_SAN) -o $$@ $$^ $$(FUZZ_LDLIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK_RULES,$(t))))

fuzz-replay: $(FUZZ_REPLAYS)
	@for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_RBUILD)/replay_$$t fuzz/corpus/$$t || exit 1; \
	done

fuzz-smoke: $(FUZZ_BINS) $(FUZZ_REPLAYS)
	@set -e; mkdir -p $(FUZZ_BUILD)/artifacts; \
	for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_RBUILD)/replay_$$t fuzz/corpus/$$t; \
	  tmp=$$(mktemp -d); log=$(FUZZ_BUILD)/smoke-$$t.log; \
	  echo "fuzz-smoke: $$t: -runs=$(FUZZ_SMOKE_RUNS) -max_total_time=$(FUZZ_SMOKE_TIME) (log $$log)"; \
	  if $(FUZZ_BUILD)/$$t $(FUZZ_OPTS) -seed=$(FUZZ_SMOKE_SEED) -runs=$(FUZZ_SMOKE_RUNS) \
	       -max_total_time=$(FUZZ_SMOKE_TIME) -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- $$tmp fuzz/corpus/$$t >$$log 2>&1; then \
	    grep -E '^stat::number_of_executed_units|^Done' $$log | tr '\n' ' '; echo; \
	    rm -rf $$tmp; \
	  else \
	    tail -n 60 $$log; rm -rf $$tmp; \
	    echo "fuzz-smoke: $$t FAILED (reproducer in $(FUZZ_BUILD)/artifacts/)"; exit 1; \
	  fi; \
	done

fuzz-run: $(FUZZ_BUILD)/$(FUZZ_TARGET)
	@mkdir -p $(FUZZ_BUILD)/corpus/$(FUZZ_TARGET) $(FUZZ_BUILD)/artifacts
	$(FUZZ_BUILD)/$(FUZZ_TARGET) $(FUZZ_OPTS) -max_total_time=$(FUZZ_TIME) \
	  $(if $(filter-out 1,$(FUZZ_JOBS)),-jobs=$(FUZZ_JOBS) -workers=$(FUZZ_JOBS)) -print_final_stats=1 \
	  -artifact_prefix=$(FUZZ_BUILD)/artifacts/$(FUZZ_TARGET)- \
	  $(FUZZ_BUILD)/corpus/$(FUZZ_TARGET) fuzz/corpus/$(FUZZ_TARGET)
