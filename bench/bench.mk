# bench/bench.mk -- interpreter benchmark (included by the top-level Makefile).
#
#   make bench        build, then run the 7 corpus workloads at their default n
#                     (plain, instrumented, and on an untracked build), then
#                     the memory-layer figures (bench-mem, bench/mem.mk)
#                     through libicexec and natively (median of BENCH_RUNS=3
#                     whole-process runs each), check every checksum, print the
#                     table and the geometric-mean ratio to native, then a peer
#                     ratio against wabt's wasm-interp on reduced sizes.
#                     The output is also written to build/bench/bench.txt.
#                     Last, the round figures (bench-round, bench/round.mk),
#                     appended to the same file.
#   make bench-smoke  every workload at its small n, plain and metered: checksums
#                     only, a few seconds (appended to CHECK_EXTRA: make check)
#   make bench-native only the native baselines (build/bench/native/W)
#
# build/bench_interp links the library as the top-level Makefile builds it
# ($(LIB_A), its CC/CPPFLAGS/CFLAGS/LDLIBS), so the figures are those of the
# product build.  Used on its own (make -f bench/bench.mk), it compiles lib/*.c
# with BENCH_CC/BENCH_CFLAGS instead.
# Variables: SHARED (default ../shared), BENCH_RUNS, BENCH_FLAGS (extra
# run_bench.py options: --meter, --workloads fib,vm, --no-wabt ...).

SHARED ?= ../shared
BENCH_CORPUS := $(SHARED)/bench
BENCH_OUT := $(or $(BUILD),build)
BENCH_BUILD := $(BENCH_OUT)/bench
BENCH_RUNS ?= 3
BENCH_FLAGS ?=
BENCH_PY ?= python3
BENCH_INTERP := $(BENCH_OUT)/bench_interp

# Native baselines: exactly the corpus README's command line.
BENCH_NATIVE_CC ?= clang
BENCH_NATIVE_CFLAGS := -O2 -fno-builtin
BENCH_WORKLOADS := $(sort $(basename $(notdir $(wildcard $(BENCH_CORPUS)/src/*.c))))
BENCH_NATIVE := $(BENCH_WORKLOADS:%=$(BENCH_BUILD)/native/%)

ifneq ($(LIB_A),)
# included from the top-level Makefile: its library and flags
BENCH_CC := $(CC)
BENCH_CFLAGS := $(CPPFLAGS) $(CFLAGS)
BENCH_LIBS := $(LIB_A)
BENCH_LDFLAGS := $(LDFLAGS)
BENCH_LDLIBS := $(LDLIBS)
else
BENCH_CC ?= gcc
BENCH_CFLAGS ?= -Iinclude -Ilib -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow \
                -Wstrict-prototypes -Wmissing-prototypes
BENCH_LIBS := $(patsubst lib/%.c,$(BENCH_BUILD)/obj/%.o,$(wildcard lib/*.c))
BENCH_LDFLAGS ?=
BENCH_LDLIBS ?= -lm
$(BENCH_BUILD)/obj/%.o: lib/%.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -MMD -MP -c -o $@ $<
endif

.PHONY: bench bench-smoke bench-native bench-interp
CHECK_EXTRA += bench-smoke

bench-interp: $(BENCH_INTERP)
bench-native: $(BENCH_NATIVE)

$(BENCH_INTERP): $(BENCH_BUILD)/obj/bench_interp.o $(BENCH_LIBS)
	$(BENCH_CC) $(BENCH_LDFLAGS) -o $@ $^ $(BENCH_LDLIBS)

# The same driver on a library compiled with -DICX_TRACK_DIRTY=0: stores do
# not mark dirty pages (the peer for "dirty-tracking overhead").
BENCH_UNTRACKED := $(BENCH_BUILD)/bench_interp_untracked
BENCH_UOBJS := $(patsubst lib/%.c,$(BENCH_BUILD)/uobj/%.o,$(wildcard lib/*.c))
$(BENCH_BUILD)/uobj/%.o: lib/%.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -DICX_TRACK_DIRTY=0 -MMD -MP -c -o $@ $<
$(BENCH_UNTRACKED): $(BENCH_BUILD)/obj/bench_interp.o $(BENCH_UOBJS)
	$(BENCH_CC) $(BENCH_LDFLAGS) -o $@ $^ $(BENCH_LDLIBS)
-include $(wildcard $(BENCH_BUILD)/uobj/*.d)

$(BENCH_BUILD)/obj/bench_interp.o: bench/bench_interp.c
	@mkdir -p $(@D)
	$(BENCH_CC) $(BENCH_CFLAGS) -MMD -MP -c -o $@ $<

-include $(wildcard $(BENCH_BUILD)/obj/*.d)

$(BENCH_BUILD)/native/%: $(BENCH_CORPUS)/src/%.c $(BENCH_CORPUS)/src/bench.h \
                         $(BENCH_CORPUS)/harness/native_main.c
	@mkdir -p $(@D)
	$(BENCH_NATIVE_CC) $(BENCH_NATIVE_CFLAGS) -o $@ $< $(BENCH_CORPUS)/harness/native_main.c -lm

bench: $(BENCH_INTERP) $(BENCH_UNTRACKED) $(BENCH_NATIVE)
	$(BENCH_PY) bench/run_bench.py --shared $(SHARED) --interp $(BENCH_INTERP) \
	  --native-dir $(BENCH_BUILD)/native --runs $(BENCH_RUNS) --wabt --meter \
	  --untracked-interp $(BENCH_UNTRACKED) --callgrind \
	  --build-info "$(BENCH_CC) $(BENCH_CFLAGS)" --log $(BENCH_BUILD)/bench.txt $(BENCH_FLAGS)
	@# the memory layer's figures (bench/mem.mk), appended to the same log
	$(if $(MEM_BENCH),$(MAKE) --no-print-directory bench-mem | tee -a $(BENCH_BUILD)/bench.txt)
	@# rounds through the public API (bench/round.mk), appended to the same log
	$(if $(ROUND_BENCH),$(MAKE) --no-print-directory bench-round | tee -a $(BENCH_BUILD)/bench.txt)

bench-smoke: $(BENCH_INTERP)
	$(BENCH_PY) bench/run_bench.py --shared $(SHARED) --interp $(BENCH_INTERP) \
	  --sizes small --runs 1 --no-native --meter $(BENCH_FLAGS)
