# bench/round.mk -- round benchmark through the public API (included by the
# top-level Makefile; docs/performance.md "Rounds" quotes the output).
#
#   make bench-round        round throughput of small update messages (1 thread
#                           and all threads), the runtime's overhead per
#                           message, the parallel speedup of a CPU-heavy
#                           multi-canister round on 2 threads (about 10 s)
#   make bench-round-smoke  the same at tiny sizes: the checks only, under a
#                           second (make check)
#
# Links the library as the top-level Makefile builds it ($(LIB_A), its
# CC/CFLAGS/LDLIBS); the program includes only the public header.

ROUND_BENCH := $(BUILD)/bench/round

.PHONY: bench-round bench-round-smoke
CHECK_EXTRA += bench-round-smoke

$(ROUND_BENCH): bench/round.c include/icexec.h $(LIB_A)
	@mkdir -p $(@D)
	$(CC) -Iinclude $(CFLAGS) $(LDFLAGS) -o $@ bench/round.c $(LIB_A) $(LDLIBS)

bench-round: $(ROUND_BENCH)
	$(ROUND_BENCH)

bench-round-smoke: $(ROUND_BENCH)
	$(ROUND_BENCH) --quick
