# tests/instr.mk -- the instrumentation pass's tool and its wabt oracle
# (included by the top-level Makefile).
#
#   make instr-oracle    build $(BUILD)/instr_tool, then tests/instr_oracle.py:
#                        bench modules, a sample of the spec suite and
#                        generated modules, instrumented and checked against
#                        wabt (wasm-validate, spectest-interp); run by make check
#   make instr-oracle INSTR_ORACLE_FLAGS=--all   every spec module
#   make instr-speed     the pass's speed on a generated multi-MB module

INSTR_TOOL := $(BUILD)/instr_tool
INSTR_ORACLE_FLAGS ?=

$(INSTR_TOOL): $(BUILD)/obj/tests/instr_tool.o $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

.PHONY: instr-oracle instr-speed
instr-oracle: $(INSTR_TOOL)
	python3 tests/instr_oracle.py --tool $(INSTR_TOOL) --build $(BUILD) --shared $(SHARED) $(INSTR_ORACLE_FLAGS)

instr-speed: $(INSTR_TOOL)
	python3 tests/instr_oracle.py --tool $(INSTR_TOOL) --build $(BUILD) --shared $(SHARED) --speed-only

CHECK_EXTRA += instr-oracle
