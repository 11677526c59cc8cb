# bench/mem.mk -- page-tracked memory figures (included by the top-level
# Makefile; docs/memory.md quotes the output).
#
#   make bench-mem        snapshot, commit, rollback, page hashing (GB/s per
#                         core), rehash after 1,000 dirty pages in a 4 GiB
#                         heap, checkpoint MB/s, resident bytes
#   make bench-mem-smoke  the same on small sizes, a few seconds (make check)
#
# Links the library as the top-level Makefile builds it ($(LIB_A), its
# CC/CPPFLAGS/CFLAGS/LDLIBS); scratch files go to $(BUILD)/bench/mem-ckpt.

MEM_BENCH := $(BUILD)/bench/mem_bench

.PHONY: bench-mem bench-mem-smoke
CHECK_EXTRA += bench-mem-smoke

$(MEM_BENCH): bench/mem_bench.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ bench/mem_bench.c $(LIB_A) $(LDLIBS)

bench-mem: $(MEM_BENCH)
	$(MEM_BENCH) $(BUILD)/bench/mem-ckpt

bench-mem-smoke: $(MEM_BENCH)
	$(MEM_BENCH) --quick $(BUILD)/bench/mem-ckpt
