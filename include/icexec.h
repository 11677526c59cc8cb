/* icexec.h -- the public interface of libicexec.
 *
 * libicexec executes Internet Computer canisters (Wasm modules) the way the
 * IC execution layer does: deterministically, metered, all-or-nothing.
 * Whatever this header does not declare is not part of the API.
 *
 * This header is C99/C11 and C++11/C++17 clean, declares no function-like
 * macros and no varargs.  Its structs are option and result structs, which
 * start with struct_size and only grow at the end, and three fixed-layout
 * value types that never change (icx_value, icx_principal,
 * icx_message_id).  Every macro constant has
 * a function twin for FFI hosts that cannot read macros.
 *
 * Conventions, stated once here and per function below:
 *  - Every fallible function returns icx_status; out-parameters (out_*) are
 *    written on ICX_OK and zeroed (NULL) otherwise.
 *  - A NULL or freed handle, or a handle of another engine, gives
 *    ICX_EMISUSE; nothing crashes on a NULL handle.
 *  - After a failed call on an engine (or on a module or instance made by
 *    it), icx_errmsg(engine) says why; after a successful call it is "".
 *  - A Wasm trap during icx_instance_call is an execution outcome, not an
 *    error: the status is ICX_OK and the icx_call_result says so.
 *  - Indicator line per function:
 *      [in: copy|borrow] [out: ...] [thread: any|engine] [alloc: yes|no]
 *    "thread: engine" means: one thread at a time per engine (the host
 *    serialises calls on an engine and everything made by it). */
#ifndef ICEXEC_H
#define ICEXEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ICX_VERSION_MAJOR 0
#define ICX_VERSION_MINOR 1
#define ICX_VERSION_PATCH 0
#define ICX_VERSION_STRING "0.1.0"
#define ICX_VERSION_NUMBER (ICX_VERSION_MAJOR * 1000000 + ICX_VERSION_MINOR * 1000 + ICX_VERSION_PATCH)

#if defined(_WIN32)
#define ICX_API __declspec(dllexport)
#elif defined(__GNUC__)
#define ICX_API __attribute__((visibility("default")))
#else
#define ICX_API
#endif

#if defined(__GNUC__)
#define ICX_NODISCARD __attribute__((warn_unused_result))
#else
#define ICX_NODISCARD
#endif

/* ---- status codes --------------------------------------------------------
 * Values are fixed: codes are appended, never renumbered or reused. */
typedef int32_t icx_status;
enum {
  ICX_OK = 0,
  ICX_ENOMEM = 1,       /* an allocation failed; nothing changed */
  ICX_EMISUSE = 2,      /* NULL or dead handle, call in the wrong state */
  ICX_EINVAL = 3,       /* an argument is out of range */
  ICX_EMALFORMED = 4,   /* bytes do not decode (Wasm binary format) */
  ICX_EINVALID = 5,     /* the module fails Wasm validation */
  ICX_EREJECTED = 6,    /* valid Wasm that breaks an IC rule */
  ICX_ENOTFOUND = 7,    /* no such export, canister, method, ... */
  ICX_ESTATE = 8,       /* wrong lifecycle state */
  ICX_ELIMIT = 9,       /* a configured limit would be exceeded */
  ICX_ECORRUPT = 10,    /* checkpoint data fails its checksum */
  ICX_EVERSION = 11,    /* incompatible header/library/format version */
  ICX_EINTERNAL = 12,   /* a bug in libicexec: please report */
  ICX_EUNLINKABLE = 13, /* imports do not match what is provided */
  ICX_ETRAP = 14,       /* instantiation trapped (start function, segments) */
  ICX_EIO = 15          /* a file operation failed (checkpoints); the message has errno's text */
};
/* One more than the largest status code this header knows. */
#define ICX_STATUS_COUNT 16

/* The text of a status code: static, never NULL, also for unknown codes.
 * [out: static] [thread: any] [alloc: no] */
ICX_API const char *icx_strerror(icx_status status);
/* ICX_STATUS_COUNT of the library actually linked.  [thread: any] */
ICX_API int32_t icx_status_count(void);

/* ---- versions ------------------------------------------------------------ */
/* ICX_VERSION_NUMBER of the library actually linked.  [thread: any] */
ICX_API int32_t icx_version_number(void);
/* ICX_VERSION_STRING of the library actually linked.  [out: static] [thread: any] */
ICX_API const char *icx_version_string(void);

/* ---- constants and limits ------------------------------------------------ */
/* Bytes in one Wasm linear-memory page. */
#define ICX_WASM_PAGE_SIZE 65536
/* ICX_WASM_PAGE_SIZE.  [thread: any] */
ICX_API uint32_t icx_wasm_page_size(void);

/* Fixed limits, set when the library is built (docs/limits.md).  Ids for
 * icx_limit; the values are append-only like status codes. */
enum {
  ICX_LIMIT_MODULE_BYTES = 1, /* bytes of one Wasm module */
  ICX_LIMIT_TYPES = 2,        /* entries in the type section */
  ICX_LIMIT_FUNCS = 3,        /* functions, imported ones included */
  ICX_LIMIT_IMPORTS = 4,      /* imports */
  ICX_LIMIT_EXPORTS = 5,      /* exports */
  ICX_LIMIT_GLOBALS = 6,      /* globals */
  ICX_LIMIT_TABLES = 7,       /* tables */
  ICX_LIMIT_SEGMENTS = 8,     /* element or data segments (each) */
  ICX_LIMIT_PARAMS = 9,       /* parameters of one function type */
  ICX_LIMIT_RESULTS = 10,     /* results of one function type */
  ICX_LIMIT_LOCALS = 11,      /* locals of one function, params included */
  ICX_LIMIT_FUNC_BYTES = 12,  /* bytes of one function body */
  ICX_LIMIT_NESTING = 13,     /* control-block nesting depth */
  ICX_LIMIT_BR_TABLE = 14,    /* targets of one br_table */
  ICX_LIMIT_TABLE_ELEMS = 15, /* elements of one table */
  ICX_LIMIT_NAME_BYTES = 16,  /* bytes of one import/export/custom name */
  ICX_LIMIT_CALL_DEPTH = 17,  /* nested Wasm calls before "call stack exhausted" */
  ICX_LIMIT_STACK_SLOTS = 18, /* 64-bit value-stack slots of one execution */
  ICX_LIMIT_MEM64_PAGES = 19  /* 64 KiB pages of one 64-bit memory */
};
/* The value of limit id (ICX_LIMIT_*), or 0 for an unknown id.  [thread: any] */
ICX_API uint64_t icx_limit(int32_t id);

/* ---- values -------------------------------------------------------------- */
/* Value types: their Wasm binary encodings. */
enum {
  ICX_TYPE_I32 = 0x7f,
  ICX_TYPE_I64 = 0x7e,
  ICX_TYPE_F32 = 0x7d,
  ICX_TYPE_F64 = 0x7c,
  ICX_TYPE_FUNCREF = 0x70,
  ICX_TYPE_EXTERNREF = 0x6f
};

/* A Wasm value.  bits: i32 and f32 in the low 32 bits (the high bits are
 * ignored on input and zero on output), i64 and f64 all 64 bits (floats as
 * their IEEE-754 bit patterns).  externref: 0 is null, any other value is
 * the host's own.  funcref: only null (0) can be passed in; a result is 0
 * for null and 1 for a non-null reference.  reserved must be 0. */
typedef struct icx_value {
  uint32_t type; /* ICX_TYPE_* */
  uint32_t reserved;
  uint64_t bits;
} icx_value;

/* ---- handles ------------------------------------------------------------- */
/* An engine owns all mutable state and every object made with it.
 * Not thread-safe, not bound to a thread: one thread at a time; separate
 * engines may be used from different threads in parallel. */
typedef struct icx_engine icx_engine;
/* A decoded, validated and compiled Wasm module.  Owned by its engine;
 * immutable after icx_module_new. */
typedef struct icx_module icx_module;
/* An instantiated module: its memory, globals, tables and an execution
 * context.  Owned by its engine. */
typedef struct icx_instance icx_instance;

/* An allocator: new_size 0 frees ptr (returns NULL); otherwise behaves as
 * realloc (ptr NULL allocates); NULL on failure.  old_size is the size
 * the block was allocated with (0 when ptr is NULL). */
typedef void *(*icx_realloc_fn)(void *ud, void *ptr, size_t old_size, size_t new_size);

/* Engine options.  Zero every field, then set struct_size and
 * header_version (or copy ICX_ENGINE_OPTS_INIT, or call
 * icx_engine_opts_init).  A zero field means the default. */
struct icx_principal;
/* Sink for the ic0.debug_print output of canisters executed by rounds:
 * the canister id and the message bytes (not NUL-terminated).  Called on
 * the thread that runs icx_execute_round (worker threads buffer their
 * canisters' output; it is delivered after each inner iteration of the
 * round, in the order one thread would have produced it, so the sequence
 * never depends on the thread count), and on the thread of icx_query for
 * queries; it must not call into the library.  Output of a message that
 * later traps is still printed. */
typedef void (*icx_debug_print_fn)(void *ud, const struct icx_principal *canister,
                                   const uint8_t *msg, size_t len);
/* Verifier of a batch's random-tape signature (the round's threshold BLS
 * signature, opaque to the library) against the subnet's public key (the
 * bytes given in icx_engine_opts.subnet_public_key).  Returns 1 if the
 * signature is valid for that round, 0 otherwise.  Called by
 * icx_execute_round on its thread before anything is executed; it must be
 * deterministic and must not call into the library. */
typedef int (*icx_verify_random_sig_fn)(void *ud, const uint8_t *public_key, size_t public_key_len,
                                        uint64_t round, const uint8_t *sig, size_t sig_len);

typedef struct icx_engine_opts {
  uint32_t struct_size;      /* sizeof(icx_engine_opts) */
  uint32_t header_version;   /* ICX_VERSION_NUMBER */
  icx_realloc_fn realloc_fn; /* NULL: the C library's realloc/free */
  void *realloc_ud;          /* passed to realloc_fn */
  /* ---- subnet and round configuration (0.1.0+; used by icx_state_*,
   * icx_execute_round; 0 = the default of the subnet type).  Defaults are
   * the IC's (docs/round.md): application subnet of 13 nodes, 40e9
   * instructions per message, 2e9 per slice, 300e9 per install_code (slice
   * 2e9), 5e9 per query, 4e9 per round and core; system subnet: 50e9 per
   * message, 1000e9 per install (slice 5e9), 7e9 per round, no fees. */
  uint32_t subnet_type;      /* ICX_SUBNET_TYPE_* */
  uint32_t subnet_size;      /* nodes of the subnet (fee scaling) */
  uint64_t max_instructions_message;       /* update, response, heartbeat, timer */
  uint64_t max_instructions_slice;         /* DTS slice of an update */
  uint64_t max_instructions_install;       /* install_code in total */
  uint64_t max_instructions_install_slice; /* DTS slice of install_code */
  uint64_t max_instructions_query;         /* one query method */
  uint64_t max_instructions_round;         /* R per scheduler core; >= both slices */
  uint32_t threads;          /* threads executing a round (0 = 1, at most 256): the
                                scheduler cores run in parallel on min(threads, cores)
                                threads, the calling one included.  Results never
                                depend on it.  With more than 1, realloc_fn must be
                                thread-safe (the default is). */
  uint32_t scheduler_cores;  /* virtual scheduler cores: a protocol parameter (4) */
  icx_debug_print_fn debug_print; /* NULL: debug output is dropped */
  void *debug_print_ud;           /* passed to debug_print */
  /* Random-tape signature check (optional): when verify_random_sig is set,
   * icx_execute_round refuses a batch whose signature it rejects
   * (ICX_EREJECTED, state unchanged).  The key (at most 4096 bytes) is
   * copied by icx_engine_new. */
  icx_verify_random_sig_fn verify_random_sig;
  void *verify_random_sig_ud;
  const uint8_t *subnet_public_key;
  size_t subnet_public_key_len;
} icx_engine_opts;

#define ICX_ENGINE_OPTS_INIT                                                                    \
  {sizeof(icx_engine_opts), ICX_VERSION_NUMBER, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,      \
   0, 0, 0, 0}

/* Subnet types (icx_engine_opts.subnet_type). */
enum {
  ICX_SUBNET_TYPE_APPLICATION = 0,
  ICX_SUBNET_TYPE_SYSTEM = 1,
  ICX_SUBNET_TYPE_VERIFIED_APPLICATION = 2
};

/* Fill *opts with the defaults of this header (struct_size, header_version,
 * zero elsewhere).  Ignores NULL.  [out: caller buffer] [thread: any] */
ICX_API void icx_engine_opts_init(icx_engine_opts *opts);

/* ---- engine -------------------------------------------------------------- */

/* Create an engine.  opts may be NULL (all defaults).  Errors: ICX_EINVAL
 * (out_engine NULL, struct_size too small for the two header fields, or an
 * inconsistent configuration: unknown subnet type, threads above 256,
 * scheduler_cores above 64, a slice limit above its message limit, a round
 * limit below the larger slice or above INT64_MAX, a subnet public key
 * over 4096 bytes or NULL with a length; there is no engine to carry a
 * message then), ICX_EVERSION (header_version of another major version),
 * ICX_ENOMEM.
 * [in: copy] [out: handle -> icx_engine_free] [thread: any] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_engine_new(const icx_engine_opts *opts,
                                                icx_engine **out_engine);

/* Free the engine and every module and instance made with it; their
 * handles become invalid.  NULL is a no-op.  [thread: engine] */
ICX_API void icx_engine_free(icx_engine *engine);

/* UTF-8 text of the error of the most recent failed call on this engine (or
 * on one of its modules or instances), "" if that call succeeded.  Never
 * NULL: a static text for a NULL or invalid engine.  Reading it does not
 * change it.  [out: view until the next call on the engine] [thread: engine]
 * [alloc: no] */
ICX_API const char *icx_errmsg(const icx_engine *engine);

/* ---- modules ------------------------------------------------------------- */

/* Module flags (bit set) for icx_module_new. */
#define ICX_MODULE_METER 0x1u /* count instructions (per basic block) */

/* ICX_MODULE_METER.  [thread: any] */
ICX_API uint32_t icx_module_meter_flag(void);

/* Decode, validate and compile wasm[0..len) (Wasm 2.0 core, memory64 and
 * 64-bit tables).  flags: ICX_MODULE_* or 0.  Errors: ICX_EMALFORMED (does
 * not decode; the message names the section and byte offset), ICX_EINVALID
 * (fails validation; the message names the function and offset), ICX_ELIMIT
 * (larger than icx_limit(ICX_LIMIT_MODULE_BYTES)), ICX_EINVAL (wasm NULL
 * with len > 0, unknown flag, out_module NULL), ICX_ENOMEM, ICX_EMISUSE.
 * [in: copy (wasm may be freed on return)] [out: handle -> icx_module_free]
 * [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_module_new(icx_engine *engine, const uint8_t *wasm,
                                                size_t len, uint32_t flags,
                                                icx_module **out_module);

/* The same from WebAssembly text (WAT, Wasm 2.0 text format with memory64
 * and 64-bit tables): text[0..len) is parsed to a binary module first.
 * Errors as icx_module_new; ICX_EMALFORMED also for text that does not
 * parse (the message gives "line L col C: reason").
 * [in: copy] [out: handle -> icx_module_free] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_module_new_wat(icx_engine *engine, const char *text,
                                                    size_t len, uint32_t flags,
                                                    icx_module **out_module);

/* Release the module handle.  Instances made from it stay valid (they keep
 * the compiled code alive until they are freed).  NULL is a no-op.
 * [thread: engine] */
ICX_API void icx_module_free(icx_module *module);

/* The signature of the function exported as name (NUL-terminated): the
 * number of parameters and results, and, if types is not NULL, the first
 * types_cap of the nparams + nresults types (ICX_TYPE_*), parameters first.
 * Errors: ICX_ENOTFOUND (no function export of that name), ICX_EINVAL
 * (name NULL, an out-parameter NULL), ICX_EMISUSE.
 * [out: caller buffers] [thread: engine] [alloc: no] */
ICX_API ICX_NODISCARD icx_status icx_module_export_type(const icx_module *module,
                                                        const char *name, uint32_t *types,
                                                        size_t types_cap,
                                                        uint32_t *out_nparams,
                                                        uint32_t *out_nresults);

/* ---- instances ----------------------------------------------------------- */

/* Instantiate module: allocate its memories, tables and globals, apply its
 * segments, run its start function (with no instruction limit).  Modules
 * with imports are not supported yet.  Errors: ICX_EUNLINKABLE (the module
 * has imports; the message names the first), ICX_ETRAP (segment
 * initialisation or the start function trapped; the message says why),
 * ICX_EMISUSE (module of another engine), ICX_EINVAL, ICX_ELIMIT (a table
 * or a 64-bit memory above the engine's limits), ICX_ENOMEM.
 * [in: borrow (the module's code is shared, kept alive by the instance)]
 * [out: handle -> icx_instance_free] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_instance_new(icx_engine *engine, const icx_module *module,
                                                  icx_instance **out_instance);

/* Free the instance.  NULL is a no-op.  [thread: engine] */
ICX_API void icx_instance_free(icx_instance *instance);

/* Trap codes (icx_call_result.trap_code).  Stable values. */
enum {
  ICX_TRAPCODE_NONE = 0,
  ICX_TRAPCODE_UNREACHABLE = 1,       /* "unreachable" executed */
  ICX_TRAPCODE_MEMORY_OOB = 2,        /* out of bounds memory access */
  ICX_TRAPCODE_TABLE_OOB = 3,         /* out of bounds table access */
  ICX_TRAPCODE_UNDEFINED_ELEMENT = 4, /* call_indirect index past the table */
  ICX_TRAPCODE_UNINIT_ELEMENT = 5,    /* call_indirect on a null entry */
  ICX_TRAPCODE_INDIRECT_TYPE = 6,     /* call_indirect type mismatch */
  ICX_TRAPCODE_DIV_ZERO = 7,          /* integer divide by zero */
  ICX_TRAPCODE_INT_OVERFLOW = 8,      /* integer overflow */
  ICX_TRAPCODE_INVALID_CONV = 9,      /* invalid conversion to integer */
  ICX_TRAPCODE_STACK_EXHAUSTED = 10,  /* call stack exhausted */
  ICX_TRAPCODE_OUT_OF_INSTRUCTIONS = 11, /* instruction limit reached */
  ICX_TRAPCODE_HOST = 12,             /* a host function trapped */
  ICX_TRAPCODE_NULL_REF = 13          /* null reference */
};

/* Static text of a trap code (the Wasm spec's wording), never NULL, also for
 * unknown codes.  [out: static] [thread: any] */
ICX_API const char *icx_trap_text(int32_t trap_code);

/* The outcome of icx_instance_call.  The caller sets struct_size; the
 * library writes only the fields that fit in it. */
typedef struct icx_call_result {
  uint32_t struct_size;     /* sizeof(icx_call_result), set by the caller */
  uint32_t trapped;         /* 1 if the call trapped, else 0 */
  int32_t trap_code;        /* ICX_TRAPCODE_*; ICX_TRAPCODE_NONE unless trapped */
  uint32_t reserved;        /* 0 */
  uint64_t instructions;    /* instructions counted (ICX_MODULE_METER), else 0 */
  const char *trap_message; /* "" unless trapped; view until the next call on
                               the instance */
} icx_call_result;

#define ICX_CALL_RESULT_INIT {sizeof(icx_call_result), 0, 0, 0, 0, 0}

/* Call the function exported as export_name (NUL-terminated) with
 * args[0..nargs), which must match its parameter types and count; on return
 * results[0..nresults) hold its results (nresults must equal its result
 * count).  ICX_OK means the call ran: it returned (out->trapped 0, results
 * written) or trapped (out->trapped 1, trap code and message set, results
 * zeroed; memory and globals keep the changes made before the trap).
 * out may be NULL (then see icx_instance_trap_code).  Errors, with nothing
 * executed: ICX_ENOTFOUND (no function export of that name), ICX_EINVAL
 * (argument count or types, nresults, NULL arrays with a non-zero count,
 * struct_size of out too small), ICX_EMISUSE (NULL/dead instance),
 * ICX_ENOMEM.
 * [in: copy] [out: caller buffers; trap_message view until the next call on
 * the instance] [thread: engine] [alloc: to grow the value stack, and for
 * more than 16 arguments] */
ICX_API ICX_NODISCARD icx_status icx_instance_call(icx_instance *instance,
                                                   const char *export_name,
                                                   const icx_value *args, size_t nargs,
                                                   icx_value *results, size_t nresults,
                                                   icx_call_result *out);

/* Limit the instructions of each following call (modules compiled with
 * ICX_MODULE_METER).  The count is checked at function entries, loop heads
 * and when the call returns; a call whose count went past the limit traps
 * with ICX_TRAPCODE_OUT_OF_INSTRUCTIONS and reports the limit as its
 * instruction count.  0 means no limit (the default).
 * Errors: ICX_ESTATE (the module was compiled without ICX_MODULE_METER),
 * ICX_EMISUSE.  [thread: engine] [alloc: no] */
ICX_API ICX_NODISCARD icx_status icx_instance_set_instruction_limit(icx_instance *instance,
                                                                    uint64_t limit);

/* Instructions counted during the most recent icx_instance_call (0 before the
 * first call, for unmetered modules, or for a NULL/dead instance).  A call
 * stopped by its instruction limit reports the limit.  [thread: engine] */
ICX_API uint64_t icx_instance_instructions(const icx_instance *instance);

/* ICX_TRAPCODE_* of the most recent icx_instance_call (ICX_TRAPCODE_NONE if
 * it returned, before the first call, or for a NULL/dead instance).
 * [thread: engine] */
ICX_API int32_t icx_instance_trap_code(const icx_instance *instance);

/* ---- principals ------------------------------------------------------------
 * An Internet Computer principal (canister id, user id, the management
 * canister, the anonymous principal) is a byte string of 0..29 bytes.
 * Its textual form is base32(crc32_be(bytes) ++ bytes), lower case (RFC 4648
 * alphabet, no padding), with a '-' after every 5 characters, e.g.
 * "aaaaa-aa" (management canister, no bytes), "2vxsx-fae" (anonymous, 0x04),
 * "rwlgt-iiaaa-aaaaa-aaaaa-cai" (canister id of index 0).  None of these
 * functions allocates or needs an engine; all are [thread: any]. */

/* Longest principal in bytes. */
#define ICX_PRINCIPAL_MAX_BYTES 29
/* Longest textual form in characters (29 bytes), without the NUL. */
#define ICX_PRINCIPAL_TEXT_MAX 63

/* A principal by value: bytes[0..len) are significant, the rest must be
 * zero for icx_principal_compare to treat two equal values alike (every
 * function here writes zeros there).  Plain bytes: no padding. */
typedef struct icx_principal {
  uint8_t len; /* 0..ICX_PRINCIPAL_MAX_BYTES */
  uint8_t bytes[ICX_PRINCIPAL_MAX_BYTES];
} icx_principal;

/* ICX_PRINCIPAL_MAX_BYTES and ICX_PRINCIPAL_TEXT_MAX as built. */
ICX_API uint32_t icx_principal_max_bytes(void);
ICX_API uint32_t icx_principal_text_max(void);

/* *out = bytes[0..len).  Errors: ICX_EINVAL (out NULL, len > 29, bytes NULL
 * with len > 0).  [out: caller buffer] [alloc: no] */
ICX_API ICX_NODISCARD icx_status icx_principal_from_bytes(const uint8_t *bytes, size_t len,
                                                          icx_principal *out);

/* Parse the textual form text[0..len) (no NUL needed).  Only the canonical
 * form is accepted, as by the IC: lower case, a dash after every 5
 * characters and nowhere else, correct CRC-32, zero padding bits, at most 29
 * bytes.  Errors: ICX_EINVAL (any of those, or out NULL, or text NULL with
 * len > 0); *out is then the empty principal.  [alloc: no] */
ICX_API ICX_NODISCARD icx_status icx_principal_from_text(const char *text, size_t len,
                                                         icx_principal *out);

/* Write the textual form of p and a NUL into buf[0..cap).  Returns the size
 * the buffer needs (text length + 1, at most ICX_PRINCIPAL_TEXT_MAX + 1);
 * nothing but "" (if cap > 0) is written when cap is smaller.  Returns 0
 * (and writes "" if possible) if p is NULL or p->len > 29.  buf may be NULL
 * with cap 0 to ask for the size.  [out: caller buffer] [alloc: no] */
ICX_API size_t icx_principal_to_text(const icx_principal *p, char *buf, size_t cap);

/* The management canister (no bytes, "aaaaa-aa").  Errors: ICX_EINVAL (out NULL). */
ICX_API ICX_NODISCARD icx_status icx_principal_management(icx_principal *out);
/* The anonymous principal (byte 0x04, "2vxsx-fae").  Errors: ICX_EINVAL. */
ICX_API ICX_NODISCARD icx_status icx_principal_anonymous(icx_principal *out);
/* The canister id of a canister index: 8 bytes of index, big-endian, then
 * 0x01 0x01.  Errors: ICX_EINVAL (out NULL). */
ICX_API ICX_NODISCARD icx_status icx_principal_from_canister_index(uint64_t index,
                                                                   icx_principal *out);
/* The index of a canister id made as above.  Errors: ICX_EINVAL (NULL
 * argument, or p does not have that layout; *out_index is then 0). */
ICX_API ICX_NODISCARD icx_status icx_principal_canister_index(const icx_principal *p,
                                                              uint64_t *out_index);
/* The self-authenticating principal of a DER-encoded public key:
 * SHA-224(der_key) followed by 0x02 (29 bytes).  The key is hashed as given,
 * not parsed.  Errors: ICX_EINVAL (out NULL, der_key NULL with len > 0). */
ICX_API ICX_NODISCARD icx_status icx_principal_self_authenticating(const uint8_t *der_key,
                                                                   size_t len,
                                                                   icx_principal *out);
/* Order of two principals: bytes compared lexicographically, a proper
 * prefix first; -1, 0 or 1.  NULL sorts before everything.  */
ICX_API int32_t icx_principal_compare(const icx_principal *a, const icx_principal *b);

/* ==== subnet state and rounds ===============================================
 * Replicated execution of one subnet (docs/round.md).  An icx_state holds
 * the canisters, their queues and the management canister's pending work;
 * an icx_batch holds one round's inputs; icx_execute_round executes the
 * batch on the state and returns an icx_round_output.  States, batches and
 * outputs belong to the engine that made them (icx_engine_free frees what
 * is left) and are used one thread at a time with it [thread: engine].
 * Equal states given equal batches give bit-identical outputs and state
 * hashes, whatever the host, allocator or thread count.
 *
 * Amounts of cycles are 128-bit: two uint64_t, high and low half.  Canister
 * ids and users are icx_principal values. */

typedef struct icx_state icx_state;
typedef struct icx_batch icx_batch;
typedef struct icx_round_output icx_round_output;

/* An ingress message id (32 bytes, see icx_batch_add_ingress). */
typedef struct icx_message_id {
  uint8_t bytes[32];
} icx_message_id;

/* Reject codes of the IC (icx_ingress_result.reject_code and xnet responses). */
enum {
  ICX_REJECT_CODE_NONE = 0,
  ICX_REJECT_CODE_SYS_FATAL = 1,
  ICX_REJECT_CODE_SYS_TRANSIENT = 2,
  ICX_REJECT_CODE_DESTINATION_INVALID = 3,
  ICX_REJECT_CODE_CANISTER_REJECT = 4,
  ICX_REJECT_CODE_CANISTER_ERROR = 5,
  ICX_REJECT_CODE_SYS_UNKNOWN = 6
};

/* ---- state ---- */

/* A new, empty subnet state (no canisters, round 0) with the engine's
 * subnet configuration.  Errors: ICX_EINVAL (out_state NULL), ICX_ENOMEM,
 * ICX_EMISUSE.  [out: handle -> icx_state_free] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_state_new(icx_engine *engine, icx_state **out_state);

/* Free the state and its canisters.  NULL is a no-op.  [thread: engine] */
ICX_API void icx_state_free(icx_state *state);

/* The state hash: BLAKE2b-256 over everything replicated (canisters with
 * their memories, queues, call contexts and balances, the management
 * canister's pending work, scheduler priorities, round and time).  Equal
 * hashes mean equal states.  Errors: ICX_EINVAL (out_hash NULL),
 * ICX_EMISUSE, ICX_EINTERNAL (the hash function failed).
 * [out: caller buffer] [thread: engine] */
ICX_API ICX_NODISCARD icx_status icx_state_hash(const icx_state *state, uint8_t out_hash[32]);

/* The number of the last round executed on the state (0 for a new one). */
ICX_API uint64_t icx_state_round(const icx_state *state);

/* The number of canisters on the state (0 for an invalid handle). */
ICX_API uint64_t icx_state_canister_count(const icx_state *state);

/* Checkpoint the state to directory dir (created if missing; incremental
 * when dir holds the checkpoint this state was saved to or loaded from).
 * As the IC does in a checkpoint round, every paused (DTS) execution is
 * aborted first: its message goes back to the front of its canister's
 * queue and runs again from the start in a later round, so the result is
 * the same as without the checkpoint, only later.  This changes the state
 * (and its hash) when something was paused.  Crash-safe: on failure dir
 * still holds the previous checkpoint.  Errors: ICX_EIO, ICX_EINVAL (dir
 * NULL), ICX_ENOMEM, ICX_EMISUSE.  [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_state_save(icx_state *state, const char *dir);

/* Load the checkpoint in dir into a new state with the engine's
 * configuration.  The loaded state hashes equal to the saved one.
 * Errors: ICX_ENOTFOUND (no checkpoint), ICX_ECORRUPT (checksums or
 * content do not match), ICX_EVERSION, ICX_EIO, ICX_EINVAL, ICX_ENOMEM,
 * ICX_EMISUSE.  [out: handle -> icx_state_free] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_state_load(icx_engine *engine, const char *dir,
                                               icx_state **out_state);

/* ---- batches ---- */

/* A batch for round number `round` (must exceed the state's last round;
 * a new state, whose last round is 0, also accepts round 0)
 * at block time time_ns (must not be below the state's time), with the
 * random-tape signature bytes random_sig[0..len) (the round's threshold
 * signature; copied).  Errors: ICX_EINVAL (out_batch NULL, random_sig NULL
 * with len > 0, len > 1024), ICX_ENOMEM, ICX_EMISUSE.
 * [in: copy] [out: handle -> icx_batch_free] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_batch_new(icx_engine *engine, uint64_t round,
                                              uint64_t time_ns, const uint8_t *random_sig,
                                              size_t len, icx_batch **out_batch);

/* Free the batch.  NULL is a no-op.  [thread: engine] */
ICX_API void icx_batch_free(icx_batch *batch);

/* Mark the batch's round as a checkpoint round (checkpoint != 0): at its
 * end every paused execution is aborted, as icx_state_save would.
 * Errors: ICX_EMISUSE.  [thread: engine] */
ICX_API ICX_NODISCARD icx_status icx_batch_set_checkpoint(icx_batch *batch, int32_t checkpoint);

/* Add an ingress message: sender calls update (or query) method `method`
 * (NUL-terminated, at most 20000 bytes) of canister with arg[0..len)
 * (copied; at most 2 MiB).  canister may be the management canister
 * (aaaaa-aa).  *out_id (may be NULL) receives its message id: SHA-256 of
 * a domain-separated encoding of the round, the position in the batch,
 * sender, canister, method and argument (unique per batch and round).
 * Messages are inducted in the order added.  Errors: ICX_EINVAL (NULL
 * sender/canister/method, arg NULL with len > 0, sizes), ICX_ELIMIT (1000
 * messages or 4 MiB of payload in one batch), ICX_ENOMEM, ICX_EMISUSE.
 * [in: copy] [out: caller buffer] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_batch_add_ingress(icx_batch *batch,
                                                      const icx_principal *sender,
                                                      const icx_principal *canister,
                                                      const char *method, const uint8_t *arg,
                                                      size_t len, icx_message_id *out_id);

/* The number of ingress messages in the batch (0 for an invalid handle). */
ICX_API uint64_t icx_batch_ingress_count(const icx_batch *batch);

/* ---- management canister helpers ----
 * Each adds one ingress message to aaaaa-aa with a Candid argument built by
 * the library; the answer arrives as that message's ingress result.
 * Statuses as icx_batch_add_ingress. */

/* Raw Candid to method `method` of aaaaa-aa (the same as
 * icx_batch_add_ingress with the management canister). */
ICX_API ICX_NODISCARD icx_status icx_batch_add_management(icx_batch *batch,
                                                         const icx_principal *sender,
                                                         const char *method,
                                                         const uint8_t *candid, size_t len,
                                                         icx_message_id *out_id);

/* provisional_create_canister_with_cycles with amount = cycles and, if
 * specified_id is not NULL, that canister id; the sender becomes the
 * controller.  The reply is record { canister_id } (icx_reply_canister_id). */
ICX_API ICX_NODISCARD icx_status icx_batch_add_create_canister(icx_batch *batch,
                                                              const icx_principal *sender,
                                                              uint64_t cycles_hi,
                                                              uint64_t cycles_lo,
                                                              const icx_principal *specified_id,
                                                              icx_message_id *out_id);

/* Install modes of icx_batch_add_install_code. */
enum { ICX_MODE_INSTALL = 0, ICX_MODE_REINSTALL = 1, ICX_MODE_UPGRADE = 2 };

/* install_code in mode (ICX_MODE_*) with the module wasm[0..wasm_len)
 * (raw or gzip) and init/post_upgrade argument arg[0..arg_len).  Upgrades
 * keep the defaults (pre_upgrade runs, Wasm memory replaced).  Errors also
 * ICX_EINVAL for an unknown mode or wasm NULL. */
ICX_API ICX_NODISCARD icx_status icx_batch_add_install_code(
    icx_batch *batch, const icx_principal *sender, const icx_principal *canister, int32_t mode,
    const uint8_t *wasm, size_t wasm_len, const uint8_t *arg, size_t arg_len,
    icx_message_id *out_id);

/* Upgrade options of icx_batch_add_install_code_opts (install_code's
 * `mode = upgrade opt record { skip_pre_upgrade; wasm_memory_persistence }`).
 * Zero the struct, set struct_size; 0 in a field means "not sent". */
enum {
  ICX_MEMORY_PERSISTENCE_UNSET = 0,  /* the option is not sent */
  ICX_MEMORY_PERSISTENCE_KEEP = 1,   /* keep the Wasm memory (enhanced orthogonal persistence;
                                        the new module must declare it) */
  ICX_MEMORY_PERSISTENCE_REPLACE = 2 /* replace it (the classic upgrade) */
};
typedef struct icx_install_options {
  uint32_t struct_size;            /* sizeof(icx_install_options), set by the caller */
  int32_t skip_pre_upgrade;        /* 0: not sent (pre_upgrade runs), 1: skip it */
  int32_t wasm_memory_persistence; /* ICX_MEMORY_PERSISTENCE_* */
  int32_t reserved;                /* 0 */
} icx_install_options;

/* icx_batch_add_install_code with upgrade options (opts may be NULL: none;
 * they are sent only in mode ICX_MODE_UPGRADE).  A canister built with
 * enhanced orthogonal persistence (Motoko's default) can only be upgraded
 * with wasm_memory_persistence = KEEP; a classic one refuses KEEP (the IC's
 * IC0504 texts, checked after pre_upgrade ran).  Errors as
 * icx_batch_add_install_code, and ICX_EINVAL for a struct_size too small or
 * a value out of range. */
ICX_API ICX_NODISCARD icx_status icx_batch_add_install_code_opts(
    icx_batch *batch, const icx_principal *sender, const icx_principal *canister, int32_t mode,
    const uint8_t *wasm, size_t wasm_len, const uint8_t *arg, size_t arg_len,
    const icx_install_options *opts, icx_message_id *out_id);

/* A method of aaaaa-aa whose argument is record { canister_id: principal }:
 * "start_canister", "stop_canister", "delete_canister", "canister_status",
 * "uninstall_code" (not checked here: aaaaa-aa answers an unknown method
 * with a reject). */
ICX_API ICX_NODISCARD icx_status icx_batch_add_canister_op(icx_batch *batch,
                                                          const icx_principal *sender,
                                                          const char *method,
                                                          const icx_principal *canister,
                                                          icx_message_id *out_id);

/* Decode a Candid reply record { canister_id: principal } (the reply of
 * canister creation).  Errors: ICX_EMALFORMED (not that Candid value),
 * ICX_EINVAL (NULL arguments).  [thread: any] [alloc: yes, temporary,
 * from the C library (it takes no engine)] */
ICX_API ICX_NODISCARD icx_status icx_reply_canister_id(const uint8_t *reply, size_t len,
                                                      icx_principal *out);

/* ---- rounds ---- */

/* Execute one round (docs/round.md): the random tape from the batch's
 * signature, postponed raw_rand answers, induction of the batch's ingress
 * (destination must exist and run, queue capacity, induction fee charged
 * to the canister; inspect_message is not run), the management canister's
 * queue, canisters in the IC's deterministic priority order with their
 * heartbeat and due global-timer tasks, same-subnet calls delivered within
 * the round while instructions remain, long executions paused at slice
 * boundaries and resumed in later rounds (at most 4 survive a round), then
 * the state hash.  The batch is read, not changed (it may be executed on
 * another state).  Errors: ICX_EINVAL (out_output NULL, round not above
 * the state's, time before the state's), ICX_EREJECTED (the engine's
 * verify_random_sig refused the batch's signature; nothing changed),
 * ICX_EMISUSE (handles of another engine), ICX_ENOMEM, ICX_EINTERNAL.
 * After ICX_ENOMEM or ICX_EINTERNAL treat the state as diverged: free it
 * (or load a checkpoint).  (Some of those are raised before anything ran,
 * e.g. when the worker threads cannot start, and leave the state as it
 * was; the status does not say which, so the safe reading is the rule.)
 * [out: handle -> icx_round_output_free] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_execute_round(icx_engine *engine, icx_state *state,
                                                  const icx_batch *batch,
                                                  icx_round_output **out_output);

/* Free a round output.  NULL is a no-op.  [thread: engine] */
ICX_API void icx_round_output_free(icx_round_output *output);

/* Ingress result statuses. */
enum { ICX_INGRESS_REPLIED = 1, ICX_INGRESS_REJECTED = 2 };

/* The final status of an ingress message, completed in this round.  The
 * caller sets struct_size; data is a view valid until the output is freed. */
typedef struct icx_ingress_result {
  uint32_t struct_size;  /* sizeof(icx_ingress_result), set by the caller */
  uint32_t status;       /* ICX_INGRESS_REPLIED or ICX_INGRESS_REJECTED */
  icx_message_id id;
  uint32_t reject_code;  /* ICX_REJECT_CODE_*; 0 when replied */
  uint32_t error_code;   /* the IC's error code number (503 for IC0503; 406 for an
                            explicit canister reject); 0 when replied */
  const uint8_t *data;   /* the reply bytes, or the reject message (UTF-8) */
  size_t len;
} icx_ingress_result;

/* Kinds of icx_xnet_message. */
enum { ICX_XNET_REQUEST = 1, ICX_XNET_RESPONSE = 2 };

/* A message for a canister on another subnet.  Views valid until the
 * output is freed. */
typedef struct icx_xnet_message {
  uint32_t struct_size;  /* sizeof(icx_xnet_message), set by the caller */
  uint32_t kind;         /* ICX_XNET_* */
  icx_principal src, dst;
  const char *method;    /* request: NUL-terminated method name; response: "" */
  const uint8_t *data;   /* argument, reply, or reject message */
  size_t len;
  uint64_t cycles_hi, cycles_lo; /* request: attached; response: refunded */
  uint64_t callback;     /* request: the sender's callback id; response: the id answered */
  uint32_t reject_code;  /* response: ICX_REJECT_CODE_* (0 = reply) */
  uint32_t reserved;
  uint64_t deadline_ns;  /* bounded-wait deadline, 0 for guaranteed response */
} icx_xnet_message;

/* What one canister used in the round. */
typedef struct icx_canister_round_stats {
  uint32_t struct_size;  /* sizeof(icx_canister_round_stats), set by the caller */
  uint32_t executions;   /* message executions started or resumed */
  icx_principal canister;
  uint64_t instructions; /* executed in this round */
  uint64_t cycles_hi, cycles_lo; /* execution fees kept + ingress induction fees */
} icx_canister_round_stats;

/* Counts of the output's lists (0 for an invalid handle).  [thread: engine] */
ICX_API uint64_t icx_round_output_ingress_count(const icx_round_output *output);
ICX_API uint64_t icx_round_output_xnet_count(const icx_round_output *output);
ICX_API uint64_t icx_round_output_canister_count(const icx_round_output *output);

/* Item index of a list: ingress results in completion order, xnet messages
 * in production order, canister figures in canister-id order (canisters
 * that executed or paid an induction fee).  The library writes only the
 * first struct_size bytes.  Errors: ICX_EINVAL (out NULL, struct_size too
 * small, index >= count), ICX_EMISUSE.  [out: caller buffer + views]
 * [thread: engine] [alloc: no] */
ICX_API ICX_NODISCARD icx_status icx_round_output_ingress(const icx_round_output *output,
                                                         uint64_t index,
                                                         icx_ingress_result *out);
ICX_API ICX_NODISCARD icx_status icx_round_output_xnet(const icx_round_output *output,
                                                      uint64_t index, icx_xnet_message *out);
ICX_API ICX_NODISCARD icx_status icx_round_output_canister(const icx_round_output *output,
                                                          uint64_t index,
                                                          icx_canister_round_stats *out);
/* The result of ingress message *id if it completed in this round.
 * Errors: ICX_ENOTFOUND, ICX_EINVAL, ICX_EMISUSE. */
ICX_API ICX_NODISCARD icx_status icx_round_output_find_ingress(const icx_round_output *output,
                                                              const icx_message_id *id,
                                                              icx_ingress_result *out);
/* Instructions executed in the round (all canisters). */
ICX_API uint64_t icx_round_output_instructions(const icx_round_output *output);
/* The state hash at the end of the round (= icx_state_hash then).
 * Errors: ICX_EINVAL (out_hash NULL), ICX_EMISUSE. */
ICX_API ICX_NODISCARD icx_status icx_round_output_state_hash(const icx_round_output *output,
                                                            uint8_t out_hash[32]);

/* ---- messages from other subnets ----
 * A batch carries, besides ingress, the messages that canisters on other
 * subnets sent to canisters here (the incoming xnet streams).  The item
 * uses the layout of the output's icx_xnet_message:
 *   request  (kind ICX_XNET_REQUEST): src = the remote caller, dst = a
 *            canister of this state, method, data = argument, cycles
 *            attached, callback = the caller's callback id (echoed in the
 *            response), deadline_ns (0 = guaranteed response);
 *   response (kind ICX_XNET_RESPONSE): src = the remote callee, dst = the
 *            canister here that made the call, callback = the callback id
 *            of the request the output carried, data = reply bytes or
 *            reject message, reject_code (0 = reply), cycles refunded.
 * Induction happens after the ingress messages, in the order added.  A
 * request to a canister that does not exist, or is stopping or stopped,
 * is answered at once with a reject response in the round's xnet output
 * (reject code 3 "destination invalid" or 5 "canister error"); so is a
 * request that finds the input queue full (code 2).  A response to a
 * callback its canister does not hold is dropped (the IC's stream
 * handling never delivers those twice).  Errors: ICX_EINVAL (NULL
 * arguments, struct_size too small, unknown kind, method NULL or longer
 * than 20000 bytes for a request, data NULL with len > 0, len > 2 MiB, a
 * response's reject code above 6), ICX_ELIMIT (10,000 xnet messages in the
 * batch, or 4 MiB of payload together with its ingress), ICX_ENOMEM,
 * ICX_EMISUSE.  [in: copy] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_batch_add_xnet(icx_batch *batch,
                                                   const icx_xnet_message *msg);
/* The number of xnet messages in the batch (0 for an invalid handle). */
ICX_API uint64_t icx_batch_xnet_count(const icx_batch *batch);

/* ==== queries ===============================================================
 * Non-replicated execution (docs/round.md "Queries").  A snapshot is a
 * frozen, read-only copy of a state's committed canisters (O(canisters):
 * memories are shared page maps, not copied).  Queries run on snapshots,
 * never on the live state, so a host may answer queries from many threads
 * while icx_execute_round advances the state on another.  Every query
 * starts from the snapshot: its changes to memory, balance and the rest
 * are discarded; update-only System API calls trap; the engine's query
 * instruction limit applies (for a composite query: to the whole call
 * tree).  Composite queries may call query and composite-query methods of
 * other canisters of the snapshot; each such call sees the snapshot's
 * state of the callee.
 *
 * Threading: icx_state_snapshot is [thread: engine]; icx_query and
 * icx_snapshot_round may run on any number of threads at once on the same
 * snapshot (and alongside rounds, batches and other engine calls);
 * icx_snapshot_free must not overlap a query on that snapshot.  Because
 * queries allocate from many threads, a custom realloc_fn must be
 * thread-safe when queries run concurrently (the default is).  debug_print
 * output of a query goes to the engine's debug_print sink on the thread
 * that runs icx_query.  icx_errmsg is not written by icx_query: its
 * status says what failed; everything the IC reports as a reject is a
 * result, not an error. */
typedef struct icx_snapshot icx_snapshot;

/* A snapshot of the state as of its last round.  Errors: ICX_EINVAL
 * (out_snapshot NULL), ICX_ENOMEM, ICX_EMISUSE.
 * [out: handle -> icx_snapshot_free] [thread: engine] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_state_snapshot(icx_state *state,
                                                   icx_snapshot **out_snapshot);
/* Free a snapshot.  NULL is a no-op.  icx_engine_free frees the snapshots
 * left.  [thread: any, not during a query on it] */
ICX_API void icx_snapshot_free(icx_snapshot *snapshot);
/* The round the snapshot was taken after (0 for an invalid handle). */
ICX_API uint64_t icx_snapshot_round(const icx_snapshot *snapshot);

/* The result of a query.  The caller sets struct_size; data is owned by
 * the result (icx_query_result_clear frees it; clear before the engine is
 * freed). */
typedef struct icx_query_result {
  uint32_t struct_size;  /* sizeof(icx_query_result), set by the caller */
  uint32_t status;       /* ICX_INGRESS_REPLIED or ICX_INGRESS_REJECTED */
  uint32_t reject_code;  /* ICX_REJECT_CODE_*; 0 when replied */
  uint32_t error_code;   /* IC0xxx number as in icx_ingress_result; 0 when replied */
  uint8_t *data;         /* reply bytes, or the reject message (UTF-8) */
  size_t len;
  uint64_t instructions; /* instructions used (all canisters of a composite query) */
  void *internal_;       /* owned by the library */
} icx_query_result;

/* Run query method `method` (NUL-terminated) of canister with argument
 * arg[0..len) as sender, on the snapshot.  A method that is not exported
 * as a query or composite query, a missing or empty canister, a stopped,
 * stopping or frozen canister, a trap or an exceeded limit are rejects in
 * *out, as the IC reports them (e.g. IC0536, IC0537, IC0301, IC0508,
 * IC0509, IC0207, IC0502, IC0522; IC0525 / IC0526 when a composite query's
 * calls go deeper than 6 or use up the instruction limit).
 * Errors: ICX_EINVAL (NULL arguments, struct_size too small, arg NULL
 * with len > 0, a principal longer than ICX_PRINCIPAL_MAX_BYTES),
 * ICX_ENOMEM, ICX_EMISUSE (invalid snapshot); *out is then
 * cleared (status 0, data NULL).  [in: borrow] [out: caller buffer ->
 * icx_query_result_clear] [thread: any] [alloc: yes] */
ICX_API ICX_NODISCARD icx_status icx_query(const icx_snapshot *snapshot,
                                          const icx_principal *sender,
                                          const icx_principal *canister, const char *method,
                                          const uint8_t *arg, size_t len,
                                          icx_query_result *out);
/* Free the data of a result and zero it (struct_size kept).  NULL or an
 * already cleared result is a no-op.  [thread: any] */
ICX_API void icx_query_result_clear(icx_query_result *result);

#ifdef __cplusplus
}
#endif
#endif
