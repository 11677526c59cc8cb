# examples/examples.mk -- the example programs as checks (included by the
# top-level Makefile, whose generic rule builds every examples/NAME.c as
# $(BUILD)/examples/NAME).
#
#   make replica-check   examples/replica.c: a replica-style loop (generated
#                        traffic over several canisters, checkpoints, a crash
#                        and a restart from the last checkpoint) whose per-round
#                        state hashes must equal an uninterrupted run's; two
#                        configurations, then a self-test (--fault: one extra
#                        message in a replayed round must be reported)
#   make python-check    examples/python/: the ctypes binding's tests
#                        (test_icexec.py, which also runs demo.py) on
#                        $(BUILD)/libicexec.so
#
# Both are part of make check (CHECK_EXTRA).  With SANITIZE=1 python-check
# preloads the sanitizer runtime into python3 (leak detection off: the
# interpreter's own allocations are not ours); without a runtime to preload
# it says so and skips.

REPLICA := $(BUILD)/examples/replica
PYTHON ?= python3

.PHONY: replica-check python-check
CHECK_EXTRA += replica-check python-check

replica-check: $(REPLICA)
	$(REPLICA) --seed=42
	$(REPLICA) --seed=7 --rounds=40 --canisters=6 --msgs=150 --checkpoint-every=7 \
	  --crash-after=30 --threads=1
	@echo "replica --fault=50 (must fail: the checker's self-test)"
	@out=$$($(REPLICA) --seed=42 --fault=50 2>&1); rc=$$?; \
	  if [ $$rc -ne 1 ] || ! echo "$$out" | grep -q '^round   50 .*MISMATCH'; then \
	    echo "$$out" | tail -5; echo "replica-check: the injected fault was not caught (status $$rc)"; exit 1; \
	  fi; echo "$$out" | tail -1

ifeq ($(SANITIZE),1)
PY_ASAN_RT := $(shell $(CC) -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)
python-check: $(LIB_SO_FILES)
	@if [ ! -f "$(PY_ASAN_RT)" ]; then echo "python-check: skipped (no ASan runtime to preload)"; \
	else echo "python-check: $(PY_ASAN_RT) preloaded"; PYTHONDONTWRITEBYTECODE=1 ICEXEC_LIB=$(LIB_SO) LD_PRELOAD=$(PY_ASAN_RT) CC="$(CC)" \
	  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 $(PYTHON) examples/python/test_icexec.py -v; fi
else
python-check: $(LIB_SO_FILES)
	PYTHONDONTWRITEBYTECODE=1 ICEXEC_LIB=$(LIB_SO) CC="$(CC)" $(PYTHON) examples/python/test_icexec.py -v
endif
