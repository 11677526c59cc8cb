# examples/drun.mk -- icexec-drun, the drun-compatible script runner
# (examples/drun.c, docs/drun.md); included by the top-level Makefile.
#
#   $(BUILD)/icexec-drun     the runner (public API only); `make install`
#                            puts it into $(BINDIR)
#   make drun-check          tests/drun/run.sh: every tests/drun/*.drun
#                            against its .ok, twice (the runs must be equal);
#                            part of make check
#   $(BUILD)/drun/           what the scripts install: NAME.wasm and
#                            NAME.classic.wasm from tests/drun/NAME.mo
#                            (Motoko, tests/motoko.mk's compiler), the WAT
#                            counter and a file that is not Wasm
#
# ICX_SKIP_MOTOKO=1 builds no Motoko canister; run.sh then skips the
# scripts marked "# needs: motoko".  The demo (make demo) needs only the
# WAT counter.

DRUN := $(BUILD)/icexec-drun
DRUN_DIR := $(BUILD)/drun
DRUN_MO_SRCS := $(sort $(wildcard tests/drun/*.mo))
DRUN_MO_WASMS := $(patsubst tests/drun/%.mo,$(DRUN_DIR)/%.wasm,$(DRUN_MO_SRCS)) \
                 $(patsubst tests/drun/%.mo,$(DRUN_DIR)/%.classic.wasm,$(DRUN_MO_SRCS))
DRUN_PLAIN := $(DRUN_DIR)/wat_counter.wasm $(DRUN_DIR)/not_wasm.wasm
DRUN_DEMO_DEPS := $(DRUN) $(BUILD)/wat/drun_counter.wasm
# The demo script installs drun_counter.wasm relative to $(BUILD)/wat.
DRUN_DEMO := cd $(BUILD)/wat && $(abspath $(DRUN)) $(abspath examples/drun-demo.drun)

$(DRUN): $(OBJDIR)/examples/drun.o $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB_A) $(LDLIBS)

examples: $(DRUN)

$(DRUN_DIR)/wat_counter.wasm: $(BUILD)/wat/drun_counter.wasm
	@mkdir -p $(@D)
	cp $< $@

$(DRUN_DIR)/not_wasm.wasm:
	@mkdir -p $(@D)
	printf 'this is not a Wasm module\n' > $@

$(DRUN_DIR)/%.classic.wasm: tests/drun/%.mo $(DRUN_MO_SRCS) $(MOTOKO_STAMP)
	@mkdir -p $(@D)
	$(SHELL) $(MOTOKO_SH) compile $(MOTOKO_NPM) $< $@ classic

$(DRUN_DIR)/%.wasm: tests/drun/%.mo $(DRUN_MO_SRCS) $(MOTOKO_STAMP)
	@mkdir -p $(@D)
	$(SHELL) $(MOTOKO_SH) compile $(MOTOKO_NPM) $< $@ eop

.PHONY: drun-check
ifeq ($(ICX_SKIP_MOTOKO),1)
drun-check: $(DRUN) $(DRUN_PLAIN)
else
drun-check: $(DRUN) $(DRUN_PLAIN) $(DRUN_MO_WASMS)
endif
	ICX_SKIP_MOTOKO=$(ICX_SKIP_MOTOKO) sh tests/drun/run.sh $(DRUN) $(DRUN_DIR) tests/drun

CHECK_EXTRA += drun-check
