# tests/canisters.mk -- test canisters (included by the top-level Makefile).
#
#   $(BUILD)/canisters/uc.wasm     the universal test canister (tests/canisters/uc.c,
#                                  bytecode in tests/uc.h), freestanding C for wasm32
#   $(BUILD)/canisters/uc64.wasm   the same for wasm64 (memory64; no 32-bit-only ic0 imports)
#   $(BUILD)/canisters/NAME.wasm   from tests/canisters/NAME.wat (wat2wasm)
#
# Every test program depends on them (order-only) and gets
# -DICX_TEST_CANISTER_DIR="$(BUILD)/canisters".  The canisters are built
# with clang/wasm-ld whatever CC is; a module that imports anything but
# ic0 functions is refused by the build (wasm-objdump).
#
#   make canisters       build them only

CANISTER_DIR := $(BUILD)/canisters
UC_CLANG ?= clang
UC_FLAGS := -std=c11 -nostdlib -ffreestanding -O2 -mbulk-memory -Wall -Wextra -Werror \
            -Wl,--no-entry -Wl,-z,stack-size=65536 -Wl,--strip-debug
CANISTER_WAT_SRCS := $(sort $(wildcard tests/canisters/*.wat))
CANISTER_WASMS := $(CANISTER_DIR)/uc.wasm $(CANISTER_DIR)/uc64.wasm \
                  $(patsubst tests/canisters/%.wat,$(CANISTER_DIR)/%.wasm,$(CANISTER_WAT_SRCS))

# $(call uc_check_imports,FILE): fail if FILE imports anything outside ic0.
uc_check_imports = bad=$$(wasm-objdump -x -j Import $(1) | grep ' <- ' | grep -v ' <- ic0\.'); \
  if [ -n "$$bad" ]; then echo "$(1): imports outside ic0:"; echo "$$bad"; rm -f $(1); exit 1; fi

$(CANISTER_DIR)/uc.wasm: tests/canisters/uc.c tests/uc.h tests/canisters.mk
	@mkdir -p $(@D)
	$(UC_CLANG) --target=wasm32 $(UC_FLAGS) -o $@ $<
	@$(call uc_check_imports,$@)

$(CANISTER_DIR)/uc64.wasm: tests/canisters/uc.c tests/uc.h tests/canisters.mk
	@mkdir -p $(@D)
	$(UC_CLANG) --target=wasm64 -DUC_WASM64 $(UC_FLAGS) -o $@ $<
	@$(call uc_check_imports,$@)

$(CANISTER_DIR)/%.wasm: tests/canisters/%.wat
	@mkdir -p $(@D)
	$(WAT2WASM) $(WAT2WASM_FLAGS) -o $@ $<

.PHONY: canisters
canisters: $(CANISTER_WASMS)
tests: $(CANISTER_WASMS)
$(TEST_BINS): | $(CANISTER_WASMS)
TEST_CPPFLAGS += -DICX_TEST_CANISTER_DIR=\"$(CANISTER_DIR)\"
