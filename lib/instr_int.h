/* instr_int.h -- shared by lib/instrument.c and lib/instr_rules.c only. */
#ifndef ICX_INSTR_INT_H
#define ICX_INSTR_INT_H

#include "instrument.h"

/* IC limits of reference section 3.2 (EC, VAL). */
#define ICX_IC_MAX_FUNCTIONS 50000u
#define ICX_IC_MAX_GLOBALS 1000u
#define ICX_IC_MAX_EXPORTED_METHODS 1000u
#define ICX_IC_MAX_METHOD_NAME_BYTES 20000u
#define ICX_IC_MAX_CUSTOM_SECTIONS 16u
#define ICX_IC_MAX_CUSTOM_SECTIONS_BYTES (1u << 20)
#define ICX_IC_MAX_FUNCTION_INSTRUCTIONS 1000000u
#define ICX_IC_MAX_FUNCTION_COMPLEXITY 1000000u
#define ICX_IC_MAX_CODE_SECTION_BYTES (10u << 20)
#define ICX_IC_MAX_WASM32_PAGES 65536u

/* Check the IC module rules (imports, exports, data offsets, globals,
 * function count, custom sections, memory size) and collect the entry
 * points (func_idx already shifted by ICX_INSTR_NIMPORTS) into out->entry /
 * out->nentry.  code_section_size is the code section's payload size. */
ICX_INTERNAL icx_status icxInstr_check_rules(const icxModule *m, size_t code_section_size,
                                             uint8_t mem64, icxInstrResult *out, icxErr *err);

#endif
