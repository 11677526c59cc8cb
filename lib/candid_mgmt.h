/* candid_mgmt.h -- Candid types of the management canister (aaaaa-aa) built
 * on lib/candid.h, and typed decoders/encoders for the records the runtime
 * needs (docs/principals-candid.md, interface spec "ic.did").
 *
 *   canister_settings = record { controllers: opt vec principal;
 *     compute_allocation: opt nat; memory_allocation: opt nat;
 *     freezing_threshold: opt nat; reserved_cycles_limit: opt nat;
 *     log_visibility: opt log_visibility; wasm_memory_limit: opt nat;
 *     wasm_memory_threshold: opt nat }
 *   log_visibility = variant { controllers; public; allowed_viewers: vec principal }
 *   install_code_args = record { mode: variant { install; reinstall;
 *     upgrade: opt record { skip_pre_upgrade: opt bool;
 *       wasm_memory_persistence: opt variant { keep; replace } } };
 *     canister_id: principal; wasm_module: blob; arg: blob;
 *     sender_canister_version: opt nat64 }
 *   create_canister_args = record { settings: opt canister_settings;
 *     sender_canister_version: opt nat64 }
 *   update_settings_args = record { canister_id: principal;
 *     settings: canister_settings; sender_canister_version: opt nat64 }
 *   canister_id_record = record { canister_id: principal }
 *   provisional_create_canister_with_cycles_args = record { amount: opt nat;
 *     settings: opt canister_settings; specified_id: opt principal;
 *     sender_canister_version: opt nat64 }
 *   provisional_top_up_canister_args = record { canister_id: principal; amount: nat }
 *   create_canister_result = record { canister_id: principal }
 *   canister_status_result = record { status: variant { running; stopping; stopped };
 *     settings: definite_canister_settings; module_hash: opt blob;
 *     memory_size: nat; cycles: nat; reserved_cycles: nat;
 *     idle_cycles_burned_per_day: nat; query_stats: record {
 *       num_calls_total: nat; num_instructions_total: nat;
 *       request_payload_bytes_total: nat; response_payload_bytes_total: nat } }
 *   definite_canister_settings = the settings above without opt, except
 *     log_visibility which is a plain log_visibility. */
#ifndef ICX_CANDID_MGMT_H
#define ICX_CANDID_MGMT_H

#include "candid.h"
#include "cycles.h"

typedef struct icxMgmtTypes {
  icxCandidTypes t;
  int32_t log_visibility, canister_settings, definite_canister_settings;
  int32_t install_code_args, create_canister_args, update_settings_args, canister_id_record;
  int32_t provisional_create_args, provisional_top_up_args;
  int32_t create_canister_result, canister_status_result, status_variant;
} icxMgmtTypes;

/* Build the table (allocator a).  Errors: ICX_ENOMEM. */
ICX_INTERNAL icx_status icxMgmt_types_init(icxMgmtTypes *m, const icxAllocator *a, icxErr *err);
ICX_INTERNAL void icxMgmt_types_free(icxMgmtTypes *m);

#define ICX_MGMT_MAX_CONTROLLERS 10

enum { ICX_INSTALL_MODE_INSTALL = 0, ICX_INSTALL_MODE_REINSTALL = 1, ICX_INSTALL_MODE_UPGRADE = 2 };
enum { ICX_WASM_MEMORY_UNSET = 0, ICX_WASM_MEMORY_KEEP = 1, ICX_WASM_MEMORY_REPLACE = 2 };
enum { ICX_LOG_VIS_UNSET = 0, ICX_LOG_VIS_CONTROLLERS = 1, ICX_LOG_VIS_PUBLIC = 2,
       ICX_LOG_VIS_ALLOWED_VIEWERS = 3 };

/* Settings bits (icxCanisterSettings.has). */
#define ICX_SET_CONTROLLERS 0x01u
#define ICX_SET_COMPUTE_ALLOCATION 0x02u
#define ICX_SET_MEMORY_ALLOCATION 0x04u
#define ICX_SET_FREEZING_THRESHOLD 0x08u
#define ICX_SET_RESERVED_CYCLES_LIMIT 0x10u
#define ICX_SET_LOG_VISIBILITY 0x20u
#define ICX_SET_WASM_MEMORY_LIMIT 0x40u
#define ICX_SET_WASM_MEMORY_THRESHOLD 0x80u

typedef struct icxCanisterSettings {
  uint32_t has; /* ICX_SET_* of the fields given */
  uint32_t ncontrollers;
  icx_principal controllers[ICX_MGMT_MAX_CONTROLLERS];
  icxU128 compute_allocation, memory_allocation, freezing_threshold, reserved_cycles_limit;
  icxU128 wasm_memory_limit, wasm_memory_threshold;
  int log_visibility;          /* ICX_LOG_VIS_* */
  uint32_t nviewers;
  icx_principal viewers[ICX_MGMT_MAX_CONTROLLERS];
} icxCanisterSettings;

typedef struct icxInstallCodeArgs {
  int mode;                    /* ICX_INSTALL_MODE_* */
  int has_skip_pre_upgrade, skip_pre_upgrade;
  int wasm_memory_persistence; /* ICX_WASM_MEMORY_* */
  icx_principal canister_id;
  const uint8_t *wasm_module;  /* points into the decoded message */
  size_t wasm_module_len;
  const uint8_t *arg;
  size_t arg_len;
  int has_sender_canister_version;
  uint64_t sender_canister_version;
} icxInstallCodeArgs;

typedef struct icxCreateCanisterArgs {
  int has_settings;
  icxCanisterSettings settings;
  int has_amount; /* provisional_create_canister_with_cycles only */
  icxU128 amount;
  int has_specified_id;
  icx_principal specified_id;
  int has_sender_canister_version;
  uint64_t sender_canister_version;
} icxCreateCanisterArgs;

/* Decoders: data[0..len) is the call's argument; pointers in *out refer to
 * data.  Errors as icxCandid_decode, plus ICX_EINVAL for more than 10
 * controllers or allowed viewers. */
ICX_INTERNAL icx_status icxMgmt_decode_install_code(const icxMgmtTypes *m, const uint8_t *data,
                                                    size_t len, icxInstallCodeArgs *out,
                                                    icxErr *err);
ICX_INTERNAL icx_status icxMgmt_decode_create_canister(const icxMgmtTypes *m, const uint8_t *data,
                                                       size_t len, icxCreateCanisterArgs *out,
                                                       icxErr *err);
ICX_INTERNAL icx_status icxMgmt_decode_provisional_create(const icxMgmtTypes *m,
                                                          const uint8_t *data, size_t len,
                                                          icxCreateCanisterArgs *out, icxErr *err);
/* update_settings: canister id and settings. */
ICX_INTERNAL icx_status icxMgmt_decode_update_settings(const icxMgmtTypes *m, const uint8_t *data,
                                                       size_t len, icx_principal *canister_id,
                                                       icxCanisterSettings *out, icxErr *err);
/* canister_id_record (start, stop, delete, status, uninstall, ...). */
ICX_INTERNAL icx_status icxMgmt_decode_canister_id(const icxMgmtTypes *m, const uint8_t *data,
                                                   size_t len, icx_principal *canister_id,
                                                   icxErr *err);
ICX_INTERNAL icx_status icxMgmt_decode_top_up(const icxMgmtTypes *m, const uint8_t *data,
                                              size_t len, icx_principal *canister_id,
                                              icxU128 *amount, icxErr *err);

/* Replies (buffers from a; free with icxCore_free(a, *out, *out_len)). */
ICX_INTERNAL icx_status icxMgmt_encode_create_result(const icxMgmtTypes *m, const icxAllocator *a,
                                                     const icx_principal *canister_id,
                                                     uint8_t **out, size_t *out_len, icxErr *err);

typedef struct icxCanisterStatus {
  int status; /* 0 running, 1 stopping, 2 stopped */
  icx_principal controllers[ICX_MGMT_MAX_CONTROLLERS];
  uint32_t ncontrollers;
  icxU128 compute_allocation, memory_allocation, freezing_threshold, reserved_cycles_limit;
  icxU128 wasm_memory_limit, wasm_memory_threshold;
  int log_visibility; /* ICX_LOG_VIS_CONTROLLERS, _PUBLIC, _ALLOWED_VIEWERS */
  icx_principal viewers[ICX_MGMT_MAX_CONTROLLERS];
  uint32_t nviewers;
  int has_module_hash;
  uint8_t module_hash[32];
  icxU128 memory_size, cycles, reserved_cycles, idle_cycles_burned_per_day;
  icxU128 num_calls_total, num_instructions_total, request_payload_bytes_total,
      response_payload_bytes_total;
} icxCanisterStatus;

ICX_INTERNAL icx_status icxMgmt_encode_canister_status(const icxMgmtTypes *m,
                                                       const icxAllocator *a,
                                                       const icxCanisterStatus *s, uint8_t **out,
                                                       size_t *out_len, icxErr *err);

/* The empty reply "DIDL" 00 00 (start_canister, install_code, ...). */
#define ICX_CANDID_EMPTY_REPLY_BYTES 6

#endif
