/* wasm_gen.h -- turn arbitrary bytes into a valid Wasm module (fuzz_exec).
 *
 * The bytes are read as a stream of choices: which function types, how many
 * locals, which instruction next.  Every choice is type-directed, so the
 * output always validates (Wasm 2.0 core: multi-value, sign extension,
 * saturating truncation, bulk memory, reference types on one funcref table).
 * When the bytes run out every further choice reads 0, which always picks the
 * smallest option, so generation always ends.
 *
 * Shape of the module: 1-5 functions with 0-3 parameters and 0-2 results of
 * the four number types, a few locals (also funcref), one memory of 1 page
 * (maximum 2), a funcref table holding every function (plus null slots),
 * 5 globals (one per number type, mutable, plus one const i32), an active and
 * a passive data segment, a data count section, optionally a start function.
 * Exports: f0..fN-1 (every function), "mem", "tab", g0..g4.
 * No imports; no dependency on the library. */
#ifndef FUZZ_WASM_GEN_H
#define FUZZ_WASM_GEN_H

#include <stddef.h>
#include <stdint.h>

/* Flags for wasmgen_module. */
#define WASMGEN_NAN_SAFE 0x1u /* no instruction that shows a NaN's sign or
                               * payload (reinterpret, copysign, float stores):
                               * engines that canonicalise NaNs and engines
                               * that do not then agree (fuzz/diff_wabt.py) */

/* Generate a module from data[0..size).  Returns a malloc'd buffer (caller
 * frees) and its length in *out_len, or NULL on allocation failure. */
uint8_t *wasmgen_module(const uint8_t *data, size_t size, uint32_t flags, size_t *out_len);

#endif
