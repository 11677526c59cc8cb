# tests/motoko.mk -- canisters compiled from Motoko (included by the top-level Makefile).
#
#   $(BUILD)/npm/                    the npm package `motoko` (version pinned in
#                                    scripts/motoko.sh), installed once with npm
#   $(BUILD)/motoko/NAME.wasm        tests/motoko/NAME.mo, moc's default: enhanced
#                                    orthogonal persistence (wasm64, 64-bit table)
#   $(BUILD)/motoko/NAME.classic.wasm  the same with classical persistence (wasm32)
#
# Every test program depends on them (order-only) and gets
# -DICX_TEST_MOTOKO_DIR="$(BUILD)/motoko"; tests/unit_motoko.c runs them.
# Needs node and npm and, the first time, the npm registry: when npm cannot
# install the package the build fails with a message.  ICX_SKIP_MOTOKO=1
# (environment or command line) builds nothing here, and unit_motoko then
# skips its tests.
#
#   make motoko          build them only

MOTOKO_DIR := $(BUILD)/motoko
MOTOKO_NPM := $(BUILD)/npm
MOTOKO_SH := scripts/motoko.sh
MOTOKO_STAMP := $(MOTOKO_NPM)/.motoko-installed
MOTOKO_SRCS := $(sort $(wildcard tests/motoko/*.mo))
MOTOKO_WASMS := $(patsubst tests/motoko/%.mo,$(MOTOKO_DIR)/%.wasm,$(MOTOKO_SRCS)) \
                $(patsubst tests/motoko/%.mo,$(MOTOKO_DIR)/%.classic.wasm,$(MOTOKO_SRCS))

# The stamp is remade when the script (and so the pinned version) changes;
# the script itself does nothing if that version is already installed.
$(MOTOKO_STAMP): $(MOTOKO_SH)
	@mkdir -p $(@D)
	$(SHELL) $(MOTOKO_SH) install $(MOTOKO_NPM)
	@touch $@

# A program may import its siblings, so each module depends on all sources.
$(MOTOKO_DIR)/%.classic.wasm: tests/motoko/%.mo $(MOTOKO_SRCS) $(MOTOKO_STAMP)
	@mkdir -p $(@D)
	$(SHELL) $(MOTOKO_SH) compile $(MOTOKO_NPM) $< $@ classic

$(MOTOKO_DIR)/%.wasm: tests/motoko/%.mo $(MOTOKO_SRCS) $(MOTOKO_STAMP)
	@mkdir -p $(@D)
	$(SHELL) $(MOTOKO_SH) compile $(MOTOKO_NPM) $< $@ eop

.PHONY: motoko
TEST_CPPFLAGS += -DICX_TEST_MOTOKO_DIR=\"$(MOTOKO_DIR)\"
ifeq ($(ICX_SKIP_MOTOKO),1)
motoko:
	@echo "motoko: skipped (ICX_SKIP_MOTOKO=1)"
else
motoko: $(MOTOKO_WASMS)
tests: $(MOTOKO_WASMS)
$(BUILD)/tests/unit_motoko: | $(MOTOKO_WASMS)
endif
