/* candid_mgmt.c -- management-canister Candid types, typed decoders and the
 * reply encoders (candid_mgmt.h). */
#include "candid_mgmt.h"

#define F(n, t) {n, 0, t}

icx_status icxMgmt_types_init(icxMgmtTypes *m, const icxAllocator *a, icxErr *err) {
  icx_status rc = ICX_OK;
  memset(m, 0, sizeof *m);
  icxCandidTypes *t = &m->t;
  icxCandidTypes_init(t, a);
  int32_t vec_p, opt_vec_p, opt_nat, opt_log, blob, opt_bool, persist, opt_persist, upg, opt_upg,
      mode, opt_n64, opt_settings, opt_p, status_v, opt_blob, qstats;
  ICX_TRY(icxCandidTypes_vec(t, ICX_CT_PRINCIPAL, &vec_p, err));
  ICX_TRY(icxCandidTypes_opt(t, vec_p, &opt_vec_p, err));
  ICX_TRY(icxCandidTypes_opt(t, ICX_CT_NAT, &opt_nat, err));
  {
    const icxCandidFieldSpec f[] = {F("controllers", ICX_CT_NULL), F("public", ICX_CT_NULL),
                                    F("allowed_viewers", vec_p)};
    ICX_TRY(icxCandidTypes_variant(t, f, 3, &m->log_visibility, err));
  }
  ICX_TRY(icxCandidTypes_opt(t, m->log_visibility, &opt_log, err));
  {
    const icxCandidFieldSpec f[] = {
        F("controllers", opt_vec_p),        F("compute_allocation", opt_nat),
        F("memory_allocation", opt_nat),    F("freezing_threshold", opt_nat),
        F("reserved_cycles_limit", opt_nat), F("log_visibility", opt_log),
        F("wasm_memory_limit", opt_nat),    F("wasm_memory_threshold", opt_nat)};
    ICX_TRY(icxCandidTypes_record(t, f, 8, &m->canister_settings, err));
  }
  {
    const icxCandidFieldSpec f[] = {
        F("controllers", vec_p),               F("compute_allocation", ICX_CT_NAT),
        F("memory_allocation", ICX_CT_NAT),    F("freezing_threshold", ICX_CT_NAT),
        F("reserved_cycles_limit", ICX_CT_NAT), F("log_visibility", m->log_visibility),
        F("wasm_memory_limit", ICX_CT_NAT),    F("wasm_memory_threshold", ICX_CT_NAT)};
    ICX_TRY(icxCandidTypes_record(t, f, 8, &m->definite_canister_settings, err));
  }
  ICX_TRY(icxCandidTypes_vec(t, ICX_CT_NAT8, &blob, err));
  ICX_TRY(icxCandidTypes_opt(t, ICX_CT_BOOL, &opt_bool, err));
  {
    const icxCandidFieldSpec f[] = {F("keep", ICX_CT_NULL), F("replace", ICX_CT_NULL)};
    ICX_TRY(icxCandidTypes_variant(t, f, 2, &persist, err));
  }
  ICX_TRY(icxCandidTypes_opt(t, persist, &opt_persist, err));
  {
    const icxCandidFieldSpec f[] = {F("skip_pre_upgrade", opt_bool),
                                    F("wasm_memory_persistence", opt_persist)};
    ICX_TRY(icxCandidTypes_record(t, f, 2, &upg, err));
  }
  ICX_TRY(icxCandidTypes_opt(t, upg, &opt_upg, err));
  {
    const icxCandidFieldSpec f[] = {F("install", ICX_CT_NULL), F("reinstall", ICX_CT_NULL),
                                    F("upgrade", opt_upg)};
    ICX_TRY(icxCandidTypes_variant(t, f, 3, &mode, err));
  }
  ICX_TRY(icxCandidTypes_opt(t, ICX_CT_NAT64, &opt_n64, err));
  {
    const icxCandidFieldSpec f[] = {F("mode", mode), F("canister_id", ICX_CT_PRINCIPAL),
                                    F("wasm_module", blob), F("arg", blob),
                                    F("sender_canister_version", opt_n64)};
    ICX_TRY(icxCandidTypes_record(t, f, 5, &m->install_code_args, err));
  }
  ICX_TRY(icxCandidTypes_opt(t, m->canister_settings, &opt_settings, err));
  {
    const icxCandidFieldSpec f[] = {F("settings", opt_settings),
                                    F("sender_canister_version", opt_n64)};
    ICX_TRY(icxCandidTypes_record(t, f, 2, &m->create_canister_args, err));
  }
  {
    const icxCandidFieldSpec f[] = {F("canister_id", ICX_CT_PRINCIPAL),
                                    F("settings", m->canister_settings),
                                    F("sender_canister_version", opt_n64)};
    ICX_TRY(icxCandidTypes_record(t, f, 3, &m->update_settings_args, err));
  }
  {
    const icxCandidFieldSpec f[] = {F("canister_id", ICX_CT_PRINCIPAL)};
    ICX_TRY(icxCandidTypes_record(t, f, 1, &m->canister_id_record, err));
    m->create_canister_result = m->canister_id_record;
  }
  ICX_TRY(icxCandidTypes_opt(t, ICX_CT_PRINCIPAL, &opt_p, err));
  {
    const icxCandidFieldSpec f[] = {F("amount", opt_nat), F("settings", opt_settings),
                                    F("specified_id", opt_p), F("sender_canister_version", opt_n64)};
    ICX_TRY(icxCandidTypes_record(t, f, 4, &m->provisional_create_args, err));
  }
  {
    const icxCandidFieldSpec f[] = {F("canister_id", ICX_CT_PRINCIPAL), F("amount", ICX_CT_NAT)};
    ICX_TRY(icxCandidTypes_record(t, f, 2, &m->provisional_top_up_args, err));
  }
  {
    const icxCandidFieldSpec f[] = {F("running", ICX_CT_NULL), F("stopping", ICX_CT_NULL),
                                    F("stopped", ICX_CT_NULL)};
    ICX_TRY(icxCandidTypes_variant(t, f, 3, &status_v, err));
    m->status_variant = status_v;
  }
  ICX_TRY(icxCandidTypes_opt(t, blob, &opt_blob, err));
  {
    const icxCandidFieldSpec f[] = {
        F("num_calls_total", ICX_CT_NAT), F("num_instructions_total", ICX_CT_NAT),
        F("request_payload_bytes_total", ICX_CT_NAT), F("response_payload_bytes_total", ICX_CT_NAT)};
    ICX_TRY(icxCandidTypes_record(t, f, 4, &qstats, err));
  }
  {
    const icxCandidFieldSpec f[] = {F("status", status_v),
                                    F("settings", m->definite_canister_settings),
                                    F("module_hash", opt_blob),
                                    F("memory_size", ICX_CT_NAT),
                                    F("cycles", ICX_CT_NAT),
                                    F("reserved_cycles", ICX_CT_NAT),
                                    F("idle_cycles_burned_per_day", ICX_CT_NAT),
                                    F("query_stats", qstats)};
    ICX_TRY(icxCandidTypes_record(t, f, 8, &m->canister_status_result, err));
  }
  return ICX_OK;
fail:
  icxCandidTypes_free(t);
  return rc;
}

void icxMgmt_types_free(icxMgmtTypes *m) {
  if (m) icxCandidTypes_free(&m->t);
}

/* ---- decoding helpers ------------------------------------------------------ */

/* 1 if variant value v is the case called name. */
static int is_case(const icxCandidValue *v, const char *name) {
  return v->type == ICX_CT_VARIANT && v->u.items[0].id == icxCandid_hash(name);
}

/* Index of case name in variant type ref (its fields are sorted by id). */
static uint32_t case_index(const icxCandidTypes *t, int32_t ref, const char *name) {
  const icxCandidEntry *e = &t->entries[ref];
  uint32_t id = icxCandid_hash(name);
  for (uint32_t i = 0; i < e->nfields; i++)
    if (t->fields[e->first + i].id == id) return i;
  return 0;
}


static const icxCandidValue *fld(const icxCandidValue *rec, const char *name) {
  return icxCandid_field_named(rec, name);
}

static icxU128 nat_of(const icxCandidValue *v) { return icxU128_make(v->u.w.hi, v->u.w.lo); }

static void principal_of(const icxCandidValue *v, icx_principal *p) {
  memset(p, 0, sizeof *p);
  p->len = (uint8_t)v->n; /* the decoder bounds principals to 29 bytes */
  if (v->n) memcpy(p->bytes, v->u.bytes, (size_t)v->n);
}

static icx_status principals_of(const icxCandidValue *vec, icx_principal *dst, uint32_t *n,
                                const char *what, icxErr *err) {
  if (vec->n > ICX_MGMT_MAX_CONTROLLERS)
    return icxErr_set(err, ICX_EINVAL, "management: %llu %s (at most %d)",
                      (unsigned long long)vec->n, what, ICX_MGMT_MAX_CONTROLLERS);
  *n = (uint32_t)vec->n;
  for (uint64_t i = 0; i < vec->n; i++) principal_of(&vec->u.items[i], &dst[i]);
  return ICX_OK;
}

static icx_status settings_of(const icxCandidValue *rec, icxCanisterSettings *s, icxErr *err) {
  memset(s, 0, sizeof *s);
  const icxCandidValue *v;
  if ((v = icxCandid_opt(fld(rec, "controllers")))) {
    icx_status rc = principals_of(v, s->controllers, &s->ncontrollers, "controllers", err);
    if (rc) return rc;
    s->has |= ICX_SET_CONTROLLERS;
  }
  static const struct {
    const char *name;
    uint32_t bit;
    size_t off;
  } nats[] = {
      {"compute_allocation", ICX_SET_COMPUTE_ALLOCATION, offsetof(icxCanisterSettings, compute_allocation)},
      {"memory_allocation", ICX_SET_MEMORY_ALLOCATION, offsetof(icxCanisterSettings, memory_allocation)},
      {"freezing_threshold", ICX_SET_FREEZING_THRESHOLD, offsetof(icxCanisterSettings, freezing_threshold)},
      {"reserved_cycles_limit", ICX_SET_RESERVED_CYCLES_LIMIT, offsetof(icxCanisterSettings, reserved_cycles_limit)},
      {"wasm_memory_limit", ICX_SET_WASM_MEMORY_LIMIT, offsetof(icxCanisterSettings, wasm_memory_limit)},
      {"wasm_memory_threshold", ICX_SET_WASM_MEMORY_THRESHOLD, offsetof(icxCanisterSettings, wasm_memory_threshold)},
  };
  for (size_t i = 0; i < sizeof nats / sizeof nats[0]; i++) {
    if ((v = icxCandid_opt(fld(rec, nats[i].name)))) {
      icxU128 x = nat_of(v);
      memcpy((char *)s + nats[i].off, &x, sizeof x);
      s->has |= nats[i].bit;
    }
  }
  if ((v = icxCandid_opt(fld(rec, "log_visibility")))) {
    s->has |= ICX_SET_LOG_VISIBILITY;
    s->log_visibility = is_case(v, "controllers") ? ICX_LOG_VIS_CONTROLLERS
                        : is_case(v, "public")    ? ICX_LOG_VIS_PUBLIC
                                                  : ICX_LOG_VIS_ALLOWED_VIEWERS;
    if (s->log_visibility == ICX_LOG_VIS_ALLOWED_VIEWERS) {
      icx_status rc = principals_of(&v->u.items[0], s->viewers, &s->nviewers, "allowed viewers", err);
      if (rc) return rc;
    }
  }
  return ICX_OK;
}

static icx_status decode1(const icxMgmtTypes *m, const uint8_t *data, size_t len, int32_t type,
                          icxCandidDoc **doc, icxErr *err) {
  icxAllocator a = m->t.alloc;
  return icxCandid_decode(&a, data, len, &m->t, &type, 1, NULL, doc, err);
}

icx_status icxMgmt_decode_install_code(const icxMgmtTypes *m, const uint8_t *data, size_t len,
                                       icxInstallCodeArgs *out, icxErr *err) {
  memset(out, 0, sizeof *out);
  icxCandidDoc *doc;
  icx_status rc = decode1(m, data, len, m->install_code_args, &doc, err);
  if (rc) return rc;
  const icxCandidValue *r = &doc->args[0], *v;
  v = fld(r, "mode");
  out->mode = is_case(v, "install")     ? ICX_INSTALL_MODE_INSTALL
              : is_case(v, "reinstall") ? ICX_INSTALL_MODE_REINSTALL
                                        : ICX_INSTALL_MODE_UPGRADE;
  if (out->mode == ICX_INSTALL_MODE_UPGRADE) {
    const icxCandidValue *opts = icxCandid_opt(&v->u.items[0]);
    if (opts) {
      const icxCandidValue *s = icxCandid_opt(fld(opts, "skip_pre_upgrade"));
      if (s) {
        out->has_skip_pre_upgrade = 1;
        out->skip_pre_upgrade = (int)s->u.w.lo;
      }
      const icxCandidValue *p = icxCandid_opt(fld(opts, "wasm_memory_persistence"));
      if (p)
        out->wasm_memory_persistence =
            is_case(p, "keep") ? ICX_WASM_MEMORY_KEEP : ICX_WASM_MEMORY_REPLACE;
    }
  }
  principal_of(fld(r, "canister_id"), &out->canister_id);
  v = fld(r, "wasm_module");
  out->wasm_module = v->u.bytes;
  out->wasm_module_len = (size_t)v->n;
  v = fld(r, "arg");
  out->arg = v->u.bytes;
  out->arg_len = (size_t)v->n;
  if ((v = icxCandid_opt(fld(r, "sender_canister_version")))) {
    out->has_sender_canister_version = 1;
    out->sender_canister_version = v->u.w.lo;
  }
  icxCandidDoc_free(doc);
  return ICX_OK;
}

static icx_status decode_create(const icxMgmtTypes *m, const uint8_t *data, size_t len,
                                int32_t type, icxCreateCanisterArgs *out, icxErr *err) {
  memset(out, 0, sizeof *out);
  icxCandidDoc *doc;
  icx_status rc = decode1(m, data, len, type, &doc, err);
  if (rc) return rc;
  const icxCandidValue *r = &doc->args[0], *v;
  if ((v = icxCandid_opt(fld(r, "settings")))) {
    out->has_settings = 1;
    rc = settings_of(v, &out->settings, err);
  }
  if ((v = icxCandid_opt(fld(r, "amount")))) {
    out->has_amount = 1;
    out->amount = nat_of(v);
  }
  if ((v = icxCandid_opt(fld(r, "specified_id")))) {
    out->has_specified_id = 1;
    principal_of(v, &out->specified_id);
  }
  if ((v = icxCandid_opt(fld(r, "sender_canister_version")))) {
    out->has_sender_canister_version = 1;
    out->sender_canister_version = v->u.w.lo;
  }
  icxCandidDoc_free(doc);
  if (rc) memset(out, 0, sizeof *out);
  return rc;
}

icx_status icxMgmt_decode_create_canister(const icxMgmtTypes *m, const uint8_t *data, size_t len,
                                          icxCreateCanisterArgs *out, icxErr *err) {
  return decode_create(m, data, len, m->create_canister_args, out, err);
}

icx_status icxMgmt_decode_provisional_create(const icxMgmtTypes *m, const uint8_t *data,
                                             size_t len, icxCreateCanisterArgs *out, icxErr *err) {
  return decode_create(m, data, len, m->provisional_create_args, out, err);
}

icx_status icxMgmt_decode_update_settings(const icxMgmtTypes *m, const uint8_t *data, size_t len,
                                          icx_principal *canister_id, icxCanisterSettings *out,
                                          icxErr *err) {
  memset(out, 0, sizeof *out);
  memset(canister_id, 0, sizeof *canister_id);
  icxCandidDoc *doc;
  icx_status rc = decode1(m, data, len, m->update_settings_args, &doc, err);
  if (rc) return rc;
  principal_of(fld(&doc->args[0], "canister_id"), canister_id);
  rc = settings_of(fld(&doc->args[0], "settings"), out, err);
  icxCandidDoc_free(doc);
  if (rc) {
    memset(out, 0, sizeof *out);
    memset(canister_id, 0, sizeof *canister_id);
  }
  return rc;
}

icx_status icxMgmt_decode_canister_id(const icxMgmtTypes *m, const uint8_t *data, size_t len,
                                      icx_principal *canister_id, icxErr *err) {
  memset(canister_id, 0, sizeof *canister_id);
  icxCandidDoc *doc;
  icx_status rc = decode1(m, data, len, m->canister_id_record, &doc, err);
  if (rc) return rc;
  principal_of(fld(&doc->args[0], "canister_id"), canister_id);
  icxCandidDoc_free(doc);
  return ICX_OK;
}

icx_status icxMgmt_decode_top_up(const icxMgmtTypes *m, const uint8_t *data, size_t len,
                                 icx_principal *canister_id, icxU128 *amount, icxErr *err) {
  memset(canister_id, 0, sizeof *canister_id);
  *amount = icxU128_zero();
  icxCandidDoc *doc;
  icx_status rc = decode1(m, data, len, m->provisional_top_up_args, &doc, err);
  if (rc) return rc;
  principal_of(fld(&doc->args[0], "canister_id"), canister_id);
  *amount = nat_of(fld(&doc->args[0], "amount"));
  icxCandidDoc_free(doc);
  return ICX_OK;
}

/* ---- replies ----------------------------------------------------------------- */

icx_status icxMgmt_encode_create_result(const icxMgmtTypes *m, const icxAllocator *a,
                                        const icx_principal *canister_id, uint8_t **out,
                                        size_t *out_len, icxErr *err) {
  icxCandidValue f = icxCandid_v_principal(canister_id->bytes, canister_id->len);
  f.id = icxCandid_hash("canister_id");
  icxCandidValue rec = icxCandid_v_record(&f, 1);
  return icxCandid_encode(a, &m->t, &m->create_canister_result, &rec, 1, out, out_len, err);
}

static icxCandidValue natv(icxU128 x, const char *name) {
  icxCandidValue v = icxCandid_v_nat(x.lo, x.hi);
  v.id = icxCandid_hash(name);
  return v;
}

/* Put items in the order of the record type (sorted by field id). */
static void sort_items(icxCandidValue *items, size_t n) {
  for (size_t i = 1; i < n; i++) {
    icxCandidValue x = items[i];
    size_t j = i;
    while (j > 0 && items[j - 1].id > x.id) {
      items[j] = items[j - 1];
      j--;
    }
    items[j] = x;
  }
}

icx_status icxMgmt_encode_canister_status(const icxMgmtTypes *m, const icxAllocator *a,
                                          const icxCanisterStatus *s, uint8_t **out,
                                          size_t *out_len, icxErr *err) {
  if (out) *out = NULL;
  if (out_len) *out_len = 0;
  if (s->ncontrollers > ICX_MGMT_MAX_CONTROLLERS || s->nviewers > ICX_MGMT_MAX_CONTROLLERS ||
      s->status < 0 || s->status > 2 || s->log_visibility < ICX_LOG_VIS_CONTROLLERS ||
      s->log_visibility > ICX_LOG_VIS_ALLOWED_VIEWERS)
    return icxErr_set(err, ICX_EINVAL, "management: bad canister status");
  icxCandidValue ctl[ICX_MGMT_MAX_CONTROLLERS], view[ICX_MGMT_MAX_CONTROLLERS];
  for (uint32_t i = 0; i < s->ncontrollers; i++)
    ctl[i] = icxCandid_v_principal(s->controllers[i].bytes, s->controllers[i].len);
  for (uint32_t i = 0; i < s->nviewers; i++)
    view[i] = icxCandid_v_principal(s->viewers[i].bytes, s->viewers[i].len);
  icxCandidValue null_v = icxCandid_v_null(), viewers_v = icxCandid_v_vec(view, s->nviewers);
  static const char *const log_cases[3] = {"controllers", "public", "allowed_viewers"};
  static const char *const status_cases[3] = {"running", "stopping", "stopped"};
  icxCandidValue logv = icxCandid_v_variant(
      case_index(&m->t, m->log_visibility, log_cases[s->log_visibility - 1]),
                                            s->log_visibility == ICX_LOG_VIS_ALLOWED_VIEWERS
                                                ? &viewers_v
                                                : &null_v);
  logv.id = icxCandid_hash("log_visibility");
  icxCandidValue set[8];
  set[0] = icxCandid_v_vec(ctl, s->ncontrollers);
  set[0].id = icxCandid_hash("controllers");
  set[1] = natv(s->compute_allocation, "compute_allocation");
  set[2] = natv(s->memory_allocation, "memory_allocation");
  set[3] = natv(s->freezing_threshold, "freezing_threshold");
  set[4] = natv(s->reserved_cycles_limit, "reserved_cycles_limit");
  set[5] = logv;
  set[6] = natv(s->wasm_memory_limit, "wasm_memory_limit");
  set[7] = natv(s->wasm_memory_threshold, "wasm_memory_threshold");
  sort_items(set, 8);
  icxCandidValue qs[4] = {natv(s->num_calls_total, "num_calls_total"),
                          natv(s->num_instructions_total, "num_instructions_total"),
                          natv(s->request_payload_bytes_total, "request_payload_bytes_total"),
                          natv(s->response_payload_bytes_total, "response_payload_bytes_total")};
  sort_items(qs, 4);
  icxCandidValue hash = icxCandid_v_blob(s->module_hash, 32);
  icxCandidValue st =
      icxCandid_v_variant(case_index(&m->t, m->status_variant, status_cases[s->status]), &null_v);
  icxCandidValue top[8];
  top[0] = st;
  top[0].id = icxCandid_hash("status");
  top[1] = icxCandid_v_record(set, 8);
  top[1].id = icxCandid_hash("settings");
  top[2] = icxCandid_v_opt(s->has_module_hash ? &hash : NULL);
  top[2].id = icxCandid_hash("module_hash");
  top[3] = natv(s->memory_size, "memory_size");
  top[4] = natv(s->cycles, "cycles");
  top[5] = natv(s->reserved_cycles, "reserved_cycles");
  top[6] = natv(s->idle_cycles_burned_per_day, "idle_cycles_burned_per_day");
  top[7] = icxCandid_v_record(qs, 4);
  top[7].id = icxCandid_hash("query_stats");
  sort_items(top, 8);
  icxCandidValue rec = icxCandid_v_record(top, 8);
  return icxCandid_encode(a, &m->t, &m->canister_status_result, &rec, 1, out, out_len, err);
}
