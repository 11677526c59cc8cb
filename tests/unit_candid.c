/* unit_candid.c -- white-box tests of lib/candid.c and lib/candid_mgmt.c.
 * Wire messages come from tests/vectors/candid_vectors.py (an independent
 * encoder) and from real drun output (docs: reference/drun-format.md).
 * Every allocation goes through cmocka's test_realloc/test_free, so each
 * test is also a leak check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "candid_mgmt.h"
#include "randtape.h"

/* ---- fixtures ------------------------------------------------------------ */

typedef struct AllocState {
  long allocs, fail_after; /* fail_after < 0: never */
} AllocState;

static void *t_alloc(void *ud, void *ptr, size_t old_size, size_t new_size) {
  AllocState *st = ud;
  (void)old_size;
  if (new_size == 0) {
    if (ptr) test_free(ptr);
    return NULL;
  }
  if (st) {
    if (st->fail_after >= 0 && st->allocs >= st->fail_after) return NULL;
    st->allocs++;
  }
  return test_realloc(ptr, new_size);
}

static icxAllocator alloc_with(AllocState *st) {
  icxAllocator a = {t_alloc, st};
  return a;
}

static size_t unhex(const char *h, uint8_t **out) {
  size_t n = strlen(h) / 2;
  uint8_t *b = test_malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
    b[i] = (uint8_t)v;
  }
  *out = b;
  return n;
}

static const char *INSTALL_OLD =
    "4449444c036d7b6b03c8bb8a707f9ce9c699067f9baaebec087f6c05d6fca70200bafbf30271a79fc97e00e3a683"
    "c30401b3c4b1f2046801020268690769676e6f726564080061736d0100000001010a00000000000000050101";
static const char *INSTALL_NEW =
    "4449444c096d7b6e7e6b0285a19bb8047fb490a1d90a7f6e026c02dceaaefa0203c0a09bde05016e046b03c8bb8a"
    "707f9ce9c69906059baaebec087f6e786c05d6fca70200a79fc97e00e3a683c30406b3c4b1f20468ca9998b40d07"
    "010800040061736d010101000101010a00000000000000050101010700000000000000";
static const char *PROV_CREATE =
    "4449444c066d686e006e7d6c03c0cff27102d7e09b90020190b58ab9077c6e036c02e3f9f5d90804d8a38ca80d02"
    "0105010180a30501010101040501808080808080808080808080808004";
static const char *TOP_UP =
    "4449444c016c02b3c4b1f20468d8a38ca80d7d0100010a0000000000000005010180808080a4bdbbbac6a0f3e4f2"
    "9303";
static const char *CREATE_COERCE =
    "4449444c036c02deebb5a90e71a882acc60f7d6e006c01e3f9f5d90801010201046c6f747332";
static const char *const ALL_VECTORS[] = {"INSTALL_OLD", "INSTALL_NEW", "PROV_CREATE", "TOP_UP",
                                          "CREATE_COERCE"};

static const char *vector(size_t i) {
  const char *v[] = {INSTALL_OLD, INSTALL_NEW, PROV_CREATE, TOP_UP, CREATE_COERCE};
  return v[i];
}

static const uint8_t CID5[10] = {0, 0, 0, 0, 0, 0, 0, 5, 1, 1};

/* ---- hashing and replies ------------------------------------------------- */

static void test_idl_hash_known_values(void **state) {
  (void)state;
  assert_int_equal(icxCandid_hash("canister_id"), 1313628723u); /* drun: b3c4b1f204 */
  assert_int_equal(icxCandid_hash("mode"), 1214305123u);
  assert_int_equal(icxCandid_hash("install"), 2375734555u);
  assert_int_equal(icxCandid_hash(""), 0u);
}

static void test_create_reply_matches_drun(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &a, NULL), ICX_OK);
  icx_principal p;
  memset(&p, 0, sizeof p);
  p.len = 10;
  p.bytes[8] = p.bytes[9] = 1; /* canister 0 */
  uint8_t *out;
  size_t n;
  assert_int_equal(icxMgmt_encode_create_result(&m, &a, &p, &out, &n, NULL), ICX_OK);
  uint8_t *want;
  size_t wn = unhex("4449444c016c01b3c4b1f204680100010a00000000000000000101", &want);
  assert_int_equal(n, wn);
  assert_memory_equal(out, want, wn);
  /* and it decodes back as a canister_id_record */
  icx_principal back;
  assert_int_equal(icxMgmt_decode_canister_id(&m, out, n, &back, NULL), ICX_OK);
  assert_int_equal(back.len, 10);
  assert_memory_equal(back.bytes, p.bytes, 10);
  icxCore_free(&a, out, n);
  test_free(want);
  icxMgmt_types_free(&m);
}

static void test_raw_rand_and_empty_replies_decode(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxRandTape t;
  assert_int_equal(icxRandTape_init(&t, 0, (const uint8_t *)"x", 1, NULL), ICX_OK);
  uint8_t reply[ICX_RAW_RAND_REPLY_BYTES];
  assert_int_equal(icxRandTape_raw_rand_reply(&t, reply, NULL), ICX_OK);
  icxCandidDoc *doc;
  assert_int_equal(icxCandid_decode(&a, reply, sizeof reply, NULL, NULL, 0, NULL, &doc, NULL), ICX_OK);
  assert_int_equal(doc->nargs, 1);
  assert_int_equal(doc->args[0].type, ICX_CT_VEC);
  assert_true(doc->args[0].is_bytes);
  assert_int_equal(doc->args[0].n, 32);
  assert_ptr_equal(doc->args[0].u.bytes, reply + 10);
  icxCandidDoc_free(doc);
  /* the same with an expected blob type; encoding a blob gives the same bytes */
  icxCandidTypes tt;
  icxCandidTypes_init(&tt, &a);
  int32_t blob;
  assert_int_equal(icxCandidTypes_vec(&tt, ICX_CT_NAT8, &blob, NULL), ICX_OK);
  assert_int_equal(icxCandid_decode(&a, reply, sizeof reply, &tt, &blob, 1, NULL, &doc, NULL), ICX_OK);
  uint8_t *enc;
  size_t n;
  assert_int_equal(icxCandid_encode(&a, &tt, &blob, doc->args, 1, &enc, &n, NULL), ICX_OK);
  assert_int_equal(n, sizeof reply);
  assert_memory_equal(enc, reply, n);
  icxCore_free(&a, enc, n);
  icxCandidDoc_free(doc);
  /* the empty reply */
  assert_int_equal(icxCandid_encode(&a, NULL, NULL, NULL, 0, &enc, &n, NULL), ICX_OK);
  assert_int_equal(n, ICX_CANDID_EMPTY_REPLY_BYTES);
  assert_memory_equal(enc, "DIDL\0\0", 6);
  assert_int_equal(icxCandid_decode(&a, enc, n, NULL, NULL, 0, NULL, &doc, NULL), ICX_OK);
  assert_int_equal(doc->nargs, 0);
  icxCandidDoc_free(doc);
  icxCore_free(&a, enc, n);
  icxCandidTypes_free(&tt);
}

/* ---- management arguments ------------------------------------------------ */

static void test_install_code_old_mode_variant(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &a, NULL), ICX_OK);
  uint8_t *b;
  size_t n = unhex(INSTALL_OLD, &b);
  icxInstallCodeArgs args;
  icxErr err;
  assert_int_equal(icxMgmt_decode_install_code(&m, b, n, &args, &err), ICX_OK);
  /* upgrade : null on the wire, opt record expected: null (no options) */
  assert_int_equal(args.mode, ICX_INSTALL_MODE_UPGRADE);
  assert_int_equal(args.has_skip_pre_upgrade, 0);
  assert_int_equal(args.wasm_memory_persistence, ICX_WASM_MEMORY_UNSET);
  assert_int_equal(args.canister_id.len, 10);
  assert_memory_equal(args.canister_id.bytes, CID5, 10);
  assert_int_equal(args.wasm_module_len, 8);
  assert_memory_equal(args.wasm_module, "\0asm\1\0\0\0", 8);
  assert_int_equal(args.arg_len, 2);
  assert_memory_equal(args.arg, "hi", 2);
  assert_int_equal(args.has_sender_canister_version, 0); /* absent opt field: null */
  test_free(b);
  icxMgmt_types_free(&m);
}

static void test_install_code_upgrade_options(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &a, NULL), ICX_OK);
  uint8_t *b;
  size_t n = unhex(INSTALL_NEW, &b);
  icxInstallCodeArgs args;
  assert_int_equal(icxMgmt_decode_install_code(&m, b, n, &args, NULL), ICX_OK);
  assert_int_equal(args.mode, ICX_INSTALL_MODE_UPGRADE);
  assert_int_equal(args.has_skip_pre_upgrade, 1);
  assert_int_equal(args.skip_pre_upgrade, 1);
  assert_int_equal(args.wasm_memory_persistence, ICX_WASM_MEMORY_KEEP);
  assert_int_equal(args.wasm_module_len, 4);
  assert_int_equal(args.arg_len, 0);
  assert_int_equal(args.has_sender_canister_version, 1);
  assert_int_equal(args.sender_canister_version, 7);
  /* generic decoding of the same bytes sees the wire shape */
  icxCandidDoc *doc;
  assert_int_equal(icxCandid_decode(&a, b, n, NULL, NULL, 0, NULL, &doc, NULL), ICX_OK);
  assert_int_equal(doc->nargs, 1);
  const icxCandidValue *mode = icxCandid_field_named(&doc->args[0], "mode");
  assert_non_null(mode);
  assert_int_equal(mode->type, ICX_CT_VARIANT);
  assert_int_equal(mode->u.items[0].id, icxCandid_hash("upgrade"));
  icxCandidDoc_free(doc);
  test_free(b);
  icxMgmt_types_free(&m);
}

static void test_provisional_create_and_top_up(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &a, NULL), ICX_OK);
  uint8_t *b;
  size_t n = unhex(PROV_CREATE, &b);
  icxCreateCanisterArgs c;
  assert_int_equal(icxMgmt_decode_provisional_create(&m, b, n, &c, NULL), ICX_OK);
  assert_int_equal(c.has_amount, 1);
  assert_true(icxU128_eq(c.amount, icxU128_make((uint64_t)1 << 36, 0))); /* 2^100 */
  assert_int_equal(c.has_settings, 1);
  assert_int_equal(c.settings.has, ICX_SET_CONTROLLERS | ICX_SET_FREEZING_THRESHOLD);
  assert_int_equal(c.settings.ncontrollers, 1);
  assert_int_equal(c.settings.controllers[0].len, 1);
  assert_int_equal(c.settings.controllers[0].bytes[0], 4);
  assert_true(icxU128_eq(c.settings.freezing_threshold, icxU128_from_u64(86400)));
  assert_int_equal(c.has_specified_id, 0);
  /* the same bytes are not a create_canister argument's subtype problem:
   * amount is an extra field there and is ignored */
  assert_int_equal(icxMgmt_decode_create_canister(&m, b, n, &c, NULL), ICX_OK);
  assert_int_equal(c.has_amount, 0);
  assert_int_equal(c.has_settings, 1);
  test_free(b);

  n = unhex(TOP_UP, &b);
  icx_principal p;
  icxU128 amt;
  assert_int_equal(icxMgmt_decode_top_up(&m, b, n, &p, &amt, NULL), ICX_OK);
  char dec[ICX_U128_DEC_MAX];
  icxU128_to_dec(amt, dec, sizeof dec);
  assert_string_equal(dec, "1000000000000000000000000000000");
  assert_memory_equal(p.bytes, CID5, 10);
  /* top-up bytes are not an install_code argument */
  icxInstallCodeArgs ia;
  icxErr err;
  assert_int_equal(icxMgmt_decode_install_code(&m, b, n, &ia, &err), ICX_EINVAL);
  assert_non_null(strstr(err.msg, "candid:"));
  test_free(b);
  icxMgmt_types_free(&m);
}

static void test_special_opt_rule_and_coercion(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &a, NULL), ICX_OK);
  uint8_t *b;
  size_t n = unhex(CREATE_COERCE, &b);
  icxCreateCanisterArgs c;
  assert_int_equal(icxMgmt_decode_create_canister(&m, b, n, &c, NULL), ICX_OK);
  assert_int_equal(c.has_settings, 1);
  /* compute_allocation: nat on the wire, opt nat expected: kept */
  assert_true(c.settings.has & ICX_SET_COMPUTE_ALLOCATION);
  assert_true(icxU128_eq(c.settings.compute_allocation, icxU128_from_u64(50)));
  /* memory_allocation: text on the wire, opt nat expected: null */
  assert_false(c.settings.has & ICX_SET_MEMORY_ALLOCATION);
  test_free(b);
  icxMgmt_types_free(&m);
}

static void test_update_settings_and_status_reply(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &a, NULL), ICX_OK);
  icxCanisterStatus s;
  memset(&s, 0, sizeof s);
  s.status = 1; /* stopping */
  s.ncontrollers = 2;
  s.controllers[0].len = 1;
  s.controllers[0].bytes[0] = 4;
  s.controllers[1].len = 10;
  memcpy(s.controllers[1].bytes, CID5, 10);
  s.freezing_threshold = icxU128_from_u64(2592000);
  s.reserved_cycles_limit = icxU128_from_u64(5000000000000ull);
  s.log_visibility = ICX_LOG_VIS_ALLOWED_VIEWERS;
  s.nviewers = 1;
  s.viewers[0].len = 1;
  s.viewers[0].bytes[0] = 4;
  s.has_module_hash = 1;
  for (int i = 0; i < 32; i++) s.module_hash[i] = (uint8_t)i;
  s.cycles = icxU128_make(1, 2);
  s.memory_size = icxU128_from_u64(123456);
  uint8_t *out;
  size_t n;
  assert_int_equal(icxMgmt_encode_canister_status(&m, &a, &s, &out, &n, NULL), ICX_OK);
  /* pre-order table: entry 0 is the result record */
  assert_memory_equal(out, "DIDL", 4);
  assert_int_equal(out[5], 0x6c);
  icxCandidDoc *doc;
  assert_int_equal(icxCandid_decode(&a, out, n, &m.t, &m.canister_status_result, 1, NULL, &doc, NULL),
                   ICX_OK);
  const icxCandidValue *r = &doc->args[0];
  const icxCandidValue *st = icxCandid_field_named(r, "status");
  assert_int_equal(st->u.items[0].id, icxCandid_hash("stopping"));
  const icxCandidValue *set = icxCandid_field_named(r, "settings");
  const icxCandidValue *ctl = icxCandid_field_named(set, "controllers");
  assert_int_equal(ctl->n, 2);
  assert_memory_equal(ctl->u.items[1].u.bytes, CID5, 10);
  const icxCandidValue *lv = icxCandid_field_named(set, "log_visibility");
  assert_int_equal(lv->u.items[0].id, icxCandid_hash("allowed_viewers"));
  assert_int_equal(lv->u.items[0].n, 1);
  const icxCandidValue *cy = icxCandid_field_named(r, "cycles");
  assert_int_equal(cy->u.w.hi, 1);
  assert_int_equal(cy->u.w.lo, 2);
  const icxCandidValue *mh = icxCandid_opt(icxCandid_field_named(r, "module_hash"));
  assert_non_null(mh);
  assert_int_equal(mh->n, 32);
  assert_int_equal(mh->u.bytes[31], 31);
  uint64_t v;
  assert_true(icxCandid_to_u64(icxCandid_field_named(r, "memory_size"), &v));
  assert_int_equal(v, 123456);
  assert_false(icxCandid_to_u64(cy, &v));
  icxCandidDoc_free(doc);
  icxCore_free(&a, out, n);

  /* update_settings built with the encoder, decoded with the typed decoder */
  icxCandidValue none = icxCandid_v_opt(NULL), ctls[1], vec, optvec, fz, optfz;
  ctls[0] = icxCandid_v_principal(CID5, 10);
  vec = icxCandid_v_vec(ctls, 1);
  optvec = icxCandid_v_opt(&vec);
  fz = icxCandid_v_nat(777, 0);
  optfz = icxCandid_v_opt(&fz);
  /* settings fields in type order: sort by id through a small table */
  const char *names[8] = {"controllers", "compute_allocation", "memory_allocation",
                          "freezing_threshold", "reserved_cycles_limit", "log_visibility",
                          "wasm_memory_limit", "wasm_memory_threshold"};
  icxCandidValue sf[8];
  for (int i = 0; i < 8; i++) {
    sf[i] = i == 0 ? optvec : i == 3 ? optfz : none;
    sf[i].id = icxCandid_hash(names[i]);
  }
  for (int i = 1; i < 8; i++)
    for (int j = i; j > 0 && sf[j - 1].id > sf[j].id; j--) {
      icxCandidValue x = sf[j];
      sf[j] = sf[j - 1];
      sf[j - 1] = x;
    }
  icxCandidValue top[3];
  top[0] = icxCandid_v_principal(CID5, 10);
  top[0].id = icxCandid_hash("canister_id");
  top[1] = icxCandid_v_record(sf, 8);
  top[1].id = icxCandid_hash("settings");
  top[2] = none;
  top[2].id = icxCandid_hash("sender_canister_version");
  for (int i = 1; i < 3; i++)
    for (int j = i; j > 0 && top[j - 1].id > top[j].id; j--) {
      icxCandidValue x = top[j];
      top[j] = top[j - 1];
      top[j - 1] = x;
    }
  icxCandidValue rec = icxCandid_v_record(top, 3);
  assert_int_equal(icxCandid_encode(&a, &m.t, &m.update_settings_args, &rec, 1, &out, &n, NULL), ICX_OK);
  icx_principal cid;
  icxCanisterSettings cs;
  assert_int_equal(icxMgmt_decode_update_settings(&m, out, n, &cid, &cs, NULL), ICX_OK);
  assert_memory_equal(cid.bytes, CID5, 10);
  assert_int_equal(cs.has, ICX_SET_CONTROLLERS | ICX_SET_FREEZING_THRESHOLD);
  assert_true(icxU128_eq(cs.freezing_threshold, icxU128_from_u64(777)));
  icxCore_free(&a, out, n);
  /* a record whose ids are out of order is refused by the encoder */
  icxCandidValue x = top[0];
  top[0] = top[1];
  top[1] = x;
  assert_int_equal(icxCandid_encode(&a, &m.t, &m.update_settings_args, &rec, 1, &out, &n, NULL),
                   ICX_EINVAL);
  assert_null(out);
  icxMgmt_types_free(&m);
}

/* ---- generic round trip over every primitive --------------------------------- */

static void test_roundtrip_all_primitives(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxCandidTypes tt;
  icxCandidTypes_init(&tt, &a);
  static const int32_t prims[] = {ICX_CT_NULL,  ICX_CT_BOOL,   ICX_CT_NAT,     ICX_CT_INT,
                                  ICX_CT_NAT8,  ICX_CT_NAT16,  ICX_CT_NAT32,   ICX_CT_NAT64,
                                  ICX_CT_INT8,  ICX_CT_INT16,  ICX_CT_INT32,   ICX_CT_INT64,
                                  ICX_CT_FLOAT32, ICX_CT_FLOAT64, ICX_CT_TEXT, ICX_CT_RESERVED,
                                  ICX_CT_PRINCIPAL};
  enum { NP = sizeof prims / sizeof prims[0] };
  icxCandidFieldSpec f[NP];
  icxCandidValue v[NP];
  for (int i = 0; i < NP; i++) {
    f[i].name = NULL;
    f[i].id = (uint32_t)i;
    f[i].type = prims[i];
    memset(&v[i], 0, sizeof v[i]);
    v[i].type = prims[i];
    v[i].id = (uint32_t)i;
  }
  v[1].u.w.lo = 1;
  v[2].u.w.lo = 0x0123456789abcdefull; /* nat 128 bits */
  v[2].u.w.hi = 0xfedcba9876543210ull;
  v[3].u.w.lo = (uint64_t)-129; /* int -129 */
  v[3].u.w.hi = UINT64_MAX;
  v[4].u.w.lo = 0xab;
  v[5].u.w.lo = 0xabcd;
  v[6].u.w.lo = 0xdeadbeef;
  v[7].u.w.lo = UINT64_MAX;
  int64_t neg = -5;
  memcpy(&v[8].u.w.lo, &neg, 8);
  v[8].u.w.hi = UINT64_MAX;
  neg = -300;
  memcpy(&v[9].u.w.lo, &neg, 8);
  v[9].u.w.hi = UINT64_MAX;
  neg = -70000;
  memcpy(&v[10].u.w.lo, &neg, 8);
  v[10].u.w.hi = UINT64_MAX;
  neg = INT64_MIN;
  memcpy(&v[11].u.w.lo, &neg, 8);
  v[11].u.w.hi = UINT64_MAX;
  v[12].u.w.lo = 0x3f800000u;           /* 1.0f */
  v[13].u.w.lo = 0x400921fb54442d18ull; /* pi */
  v[14] = icxCandid_v_text("h\xc3\xa9llo", 6);
  v[14].id = 14;
  v[16] = icxCandid_v_principal(CID5, 10);
  v[16].id = 16;
  int32_t rec;
  assert_int_equal(icxCandidTypes_record(&tt, f, NP, &rec, NULL), ICX_OK);
  icxCandidValue r = icxCandid_v_record(v, NP);
  uint8_t *out;
  size_t n;
  assert_int_equal(icxCandid_encode(&a, &tt, &rec, &r, 1, &out, &n, NULL), ICX_OK);
  icxCandidDoc *doc;
  assert_int_equal(icxCandid_decode(&a, out, n, NULL, NULL, 0, NULL, &doc, NULL), ICX_OK);
  const icxCandidValue *d = &doc->args[0];
  assert_int_equal(d->n, NP);
  for (int i = 0; i < NP; i++) {
    assert_int_equal(d->u.items[i].type, prims[i]);
    assert_int_equal(d->u.items[i].id, i);
    if (prims[i] == ICX_CT_TEXT || prims[i] == ICX_CT_PRINCIPAL) {
      assert_int_equal(d->u.items[i].n, v[i].n);
      assert_memory_equal(d->u.items[i].u.bytes, v[i].u.bytes, (size_t)v[i].n);
    } else if (prims[i] != ICX_CT_NULL && prims[i] != ICX_CT_RESERVED) {
      assert_true(d->u.items[i].u.w.lo == v[i].u.w.lo);
      if (prims[i] == ICX_CT_NAT || prims[i] <= ICX_CT_INT8 || prims[i] == ICX_CT_INT)
        if (prims[i] >= ICX_CT_INT64 || prims[i] == ICX_CT_NAT || prims[i] == ICX_CT_INT)
          assert_true(d->u.items[i].u.w.hi == v[i].u.w.hi);
    }
  }
  /* re-encoding the decoded tree reproduces the bytes (same table) */
  uint8_t *out2;
  size_t n2;
  assert_int_equal(icxCandid_encode(&a, &tt, &rec, doc->args, 1, &out2, &n2, NULL), ICX_OK);
  assert_int_equal(n2, n);
  assert_memory_equal(out2, out, n);
  icxCore_free(&a, out2, n2);
  icxCandidDoc_free(doc);
  icxCore_free(&a, out, n);
  icxCandidTypes_free(&tt);
}

/* ---- integers at the 128-bit edge ----------------------------------------------- */

static icx_status decode_hex(const char *h, const icxCandidTypes *tt, const int32_t *types,
                             size_t n, icxCandidDoc **doc, icxErr *err) {
  icxAllocator a = alloc_with(NULL);
  uint8_t *b;
  size_t len = unhex(h, &b);
  icx_status rc = icxCandid_decode(&a, b, len, tt, types, n, NULL, doc, err);
  test_free(b);
  return rc;
}

static void test_int_nat_edges(void **state) {
  (void)state;
  icxCandidDoc *doc;
  icxErr err;
  /* int -2^127 (SLEB, from Python) */
  assert_int_equal(decode_hex("4449444c00017c8080808080808080808080808080808080807e", NULL, NULL, 0, &doc, &err), ICX_OK);
  assert_true(doc->args[0].u.w.hi == 0x8000000000000000ull && doc->args[0].u.w.lo == 0);
  icxCandidDoc_free(doc);
  /* int 2^127 - 1 */
  assert_int_equal(decode_hex("4449444c00017cffffffffffffffffffffffffffffffffffff01", NULL, NULL, 0, &doc, &err), ICX_OK);
  assert_true(doc->args[0].u.w.hi == 0x7fffffffffffffffull && doc->args[0].u.w.lo == UINT64_MAX);
  icxCandidDoc_free(doc);
  /* int 2^127: too big to keep */
  assert_int_equal(decode_hex("4449444c00017c80808080808080808080808080808080808002", NULL, NULL, 0, &doc, &err), ICX_EINVAL);
  assert_null(doc);
  assert_non_null(strstr(err.msg, "128 bits"));
  /* int -129: ff 7e */
  assert_int_equal(decode_hex("4449444c00017cff7e", NULL, NULL, 0, &doc, &err), ICX_OK);
  assert_true(doc->args[0].u.w.lo == (uint64_t)-129 && doc->args[0].u.w.hi == UINT64_MAX);
  icxCandidDoc_free(doc);
  /* nat 2^128 is refused when kept ... */
  assert_int_equal(decode_hex("4449444c00017d8080808080808080808080808080808080808004", NULL, NULL, 0, &doc, &err), ICX_EINVAL);
  /* ... and skipped when it is an extra argument */
  icxAllocator a = alloc_with(NULL);
  icxCandidTypes tt;
  icxCandidTypes_init(&tt, &a);
  int32_t nat = ICX_CT_NAT;
  assert_int_equal(decode_hex("4449444c00027d7d0580808080808080808080808080808080808004", &tt, &nat, 1, &doc, &err), ICX_OK);
  assert_int_equal(doc->nargs, 1);
  assert_int_equal(doc->args[0].u.w.lo, 5);
  icxCandidDoc_free(doc);
  /* nat where int is expected: nat <: int */
  int32_t in = ICX_CT_INT;
  assert_int_equal(decode_hex("4449444c00017d05", &tt, &in, 1, &doc, &err), ICX_OK);
  assert_int_equal(doc->args[0].type, ICX_CT_INT);
  icxCandidDoc_free(doc);
  /* int where nat is expected: no */
  assert_int_equal(decode_hex("4449444c00017c05", &tt, &nat, 1, &doc, &err), ICX_EINVAL);
  icxCandidTypes_free(&tt);
}

/* ---- arguments: missing, extra, opt ------------------------------------------------- */

static void test_missing_and_extra_arguments(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxCandidTypes tt;
  icxCandidTypes_init(&tt, &a);
  int32_t on, types[2];
  assert_int_equal(icxCandidTypes_opt(&tt, ICX_CT_NAT, &on, NULL), ICX_OK);
  types[0] = on;
  types[1] = ICX_CT_NAT;
  icxCandidDoc *doc;
  icxErr err;
  /* no arguments on the wire: opt nat is null */
  assert_int_equal(decode_hex("4449444c0000", &tt, types, 1, &doc, &err), ICX_OK);
  assert_int_equal(doc->args[0].type, ICX_CT_OPT);
  assert_int_equal(doc->args[0].n, 0);
  icxCandidDoc_free(doc);
  /* ... but a missing nat is an error */
  assert_int_equal(decode_hex("4449444c0000", &tt, types + 1, 1, &doc, &err), ICX_EINVAL);
  assert_non_null(strstr(err.msg, "missing argument"));
  /* opt nat given as opt text: special opt rule gives null */
  assert_int_equal(decode_hex("4449444c016e710100010361626364", &tt, types, 1, &doc, &err), ICX_EMALFORMED);
  assert_int_equal(decode_hex("4449444c016e71010001036162", &tt, types, 1, &doc, &err), ICX_EMALFORMED);
  assert_int_equal(decode_hex("4449444c016e7101000103616263", &tt, types, 1, &doc, &err), ICX_OK);
  assert_int_equal(doc->args[0].n, 0);
  icxCandidDoc_free(doc);
  /* null for opt nat: null; reserved for opt nat: null */
  assert_int_equal(decode_hex("4449444c00017f", &tt, types, 1, &doc, &err), ICX_OK);
  assert_int_equal(doc->args[0].n, 0);
  icxCandidDoc_free(doc);
  assert_int_equal(decode_hex("4449444c000170", &tt, types, 1, &doc, &err), ICX_OK);
  icxCandidDoc_free(doc);
  /* reserved expected takes anything */
  int32_t res = ICX_CT_RESERVED;
  assert_int_equal(decode_hex("4449444c00017103616263", &tt, &res, 1, &doc, &err), ICX_OK);
  assert_int_equal(doc->args[0].type, ICX_CT_RESERVED);
  icxCandidDoc_free(doc);
  /* trailing bytes */
  assert_int_equal(decode_hex("4449444c00017f00", &tt, types, 1, &doc, &err), ICX_EMALFORMED);
  assert_non_null(strstr(err.msg, "trailing"));
  icxCandidTypes_free(&tt);
}

/* ---- malformed input ------------------------------------------------------------ */

static void expect_malformed(const char *h, const char *msg_part) {
  icxCandidDoc *doc = (icxCandidDoc *)(uintptr_t)1;
  icxErr err;
  memset(&err, 0, sizeof err);
  icx_status rc = decode_hex(h, NULL, NULL, 0, &doc, &err);
  if (rc != ICX_EMALFORMED) fail_msg("%s: status %d (%s)", h, rc, err.msg);
  assert_null(doc);
  if (msg_part && strstr(err.msg, msg_part) == NULL) fail_msg("%s: message \"%s\"", h, err.msg);
}

static void test_malformed_messages(void **state) {
  (void)state;
  expect_malformed("", "DIDL");
  expect_malformed("4449444d0000", "DIDL");
  expect_malformed("4449444c", "end of input");
  expect_malformed("4449444c00", "end of input");
  expect_malformed("4449444c00017e02", "bool");            /* bool 2 */
  expect_malformed("4449444c00017102c328", "UTF-8");       /* bad UTF-8 */
  expect_malformed("4449444c00017103eda080", "UTF-8");     /* surrogate */
  expect_malformed("4449444c00017102c0af", "UTF-8");       /* overlong */
  expect_malformed("4449444c0001680000", "opaque");        /* opaque principal */
  expect_malformed("4449444c0001680202", "principal flag");
  expect_malformed("4449444c000168011e00", "29 bytes");    /* 30-byte principal */
  expect_malformed("4449444c01717f0000", "type opcode");   /* primitive in the table */
  expect_malformed("4449444c01667f0000", "type opcode");   /* unknown opcode */
  expect_malformed("4449444c016e05010000", "invalid type"); /* ref past the table */
  expect_malformed("4449444c016c0201710071010000", "strictly increasing");
  expect_malformed("4449444c016c02027100710100", "strictly increasing");
  expect_malformed("4449444c016b01007f010005", "variant index");
  expect_malformed("4449444c016e7f010002", "opt flag");
  expect_malformed("4449444c00017dffffffffffffffffffffff", "end of input");
  expect_malformed("4449444c00016f", "empty");              /* a value of type empty */
  expect_malformed("4449444c00015f", "invalid type");       /* arg type -33 */
  expect_malformed("4449444cffffffffffffffffffff0100", "LEB128");
  expect_malformed("4449444c0005", "argument count");
  expect_malformed("4449444c016d7b01007f", "vec length");
  expect_malformed("4449444c016d7101007f", "vec length");
  expect_malformed("4449444c016c01007f01000a", "trailing");
  /* service method types must be funcs; func annotations 1..3 */
  expect_malformed("4449444c0169010161000100", "not a func");
  expect_malformed("4449444c016a000001040100", "annotation");
}

/* Every prefix of every valid vector is rejected cleanly, without leaks. */
static void test_truncations_and_bit_flips(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &a, NULL), ICX_OK);
  for (size_t v = 0; v < sizeof ALL_VECTORS / sizeof ALL_VECTORS[0]; v++) {
    uint8_t *b;
    size_t n = unhex(vector(v), &b);
    for (size_t k = 0; k < n; k++) {
      icxCandidDoc *doc;
      icxErr err;
      icx_status rc = icxCandid_decode(&a, b, k, NULL, NULL, 0, NULL, &doc, &err);
      if (rc == ICX_OK) fail_msg("%s: prefix %zu decoded", ALL_VECTORS[v], k);
      assert_null(doc);
      assert_true(err.msg[0] != 0);
    }
    /* single-bit flips: any outcome, but a clean one, also with expected types */
    for (size_t k = 0; k < n * 8; k++) {
      b[k / 8] ^= (uint8_t)(1u << (k % 8));
      icxCandidDoc *doc;
      icx_status rc = icxCandid_decode(&a, b, n, NULL, NULL, 0, NULL, &doc, NULL);
      assert_true(rc == ICX_OK || rc == ICX_EMALFORMED || rc == ICX_EINVAL || rc == ICX_ELIMIT);
      icxCandidDoc_free(doc);
      icxInstallCodeArgs ia;
      rc = icxMgmt_decode_install_code(&m, b, n, &ia, NULL);
      assert_true(rc == ICX_OK || rc == ICX_EMALFORMED || rc == ICX_EINVAL || rc == ICX_ELIMIT);
      icxCreateCanisterArgs ca;
      rc = icxMgmt_decode_provisional_create(&m, b, n, &ca, NULL);
      assert_true(rc == ICX_OK || rc == ICX_EMALFORMED || rc == ICX_EINVAL || rc == ICX_ELIMIT);
      b[k / 8] ^= (uint8_t)(1u << (k % 8));
    }
    test_free(b);
  }
  icxMgmt_types_free(&m);
}

/* ---- bounds ------------------------------------------------------------------------ */

static void test_limits_depth_steps_alloc(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  /* recursive type 0 = opt 0, value: 300 x "some" then null */
  size_t n = 4 + 3 + 2 + 300 + 1;
  uint8_t *b = test_malloc(n);
  memcpy(b, "DIDL\x01\x6e\x00\x01\x00", 9);
  memset(b + 9, 1, 300);
  b[n - 1] = 0;
  icxCandidDoc *doc;
  icxErr err;
  assert_int_equal(icxCandid_decode(&a, b, n, NULL, NULL, 0, NULL, &doc, &err), ICX_ELIMIT);
  assert_non_null(strstr(err.msg, "deeper"));
  icxCandidLimits lim = {400, 0, 0};
  assert_int_equal(icxCandid_decode(&a, b, n, NULL, NULL, 0, &lim, &doc, &err), ICX_OK);
  icxCandidDoc_free(doc);
  test_free(b);
  /* vec null of 2^40 elements: refused before any work */
  assert_int_equal(decode_hex("4449444c016d7f0100808080808020", NULL, NULL, 0, &doc, &err), ICX_ELIMIT);
  assert_non_null(strstr(err.msg, "step limit"));
  /* vec null of 1,000,000 elements within a 1 MiB allocation budget */
  uint8_t *m;
  size_t mn = unhex("4449444c016d7f0100c0843d", &m);
  icxCandidLimits small = {0, 0, 1u << 20};
  assert_int_equal(icxCandid_decode(&a, m, mn, NULL, NULL, 0, &small, &doc, &err), ICX_ELIMIT);
  assert_non_null(strstr(err.msg, "memory"));
  icxCandidLimits steps = {0, 1000, 0};
  assert_int_equal(icxCandid_decode(&a, m, mn, NULL, NULL, 0, &steps, &doc, &err), ICX_ELIMIT);
  /* with the defaults it decodes (1 M nodes, 40 MB) */
  assert_int_equal(icxCandid_decode(&a, m, mn, NULL, NULL, 0, NULL, &doc, &err), ICX_OK);
  assert_int_equal(doc->args[0].n, 1000000);
  icxCandidDoc_free(doc);
  test_free(m);
}

static void test_out_of_memory_sweep(void **state) {
  (void)state;
  uint8_t *b;
  size_t n = unhex(INSTALL_NEW, &b);
  icxAllocator plain = alloc_with(NULL);
  icxMgmtTypes m;
  assert_int_equal(icxMgmt_types_init(&m, &plain, NULL), ICX_OK);
  for (long k = 0;; k++) {
    AllocState st = {0, k};
    icxAllocator a = alloc_with(&st);
    m.t.alloc = a;
    icxInstallCodeArgs args;
    icxErr err;
    icx_status rc = icxMgmt_decode_install_code(&m, b, n, &args, &err);
    if (rc == ICX_OK) {
      assert_int_equal(args.sender_canister_version, 7);
      break;
    }
    assert_int_equal(rc, ICX_ENOMEM);
    assert_true(k < 100);
  }
  m.t.alloc = plain;
  /* the types builder under memory pressure */
  for (long k = 0;; k++) {
    AllocState st = {0, k};
    icxAllocator a = alloc_with(&st);
    icxMgmtTypes m2;
    icx_status rc = icxMgmt_types_init(&m2, &a, NULL);
    if (rc == ICX_OK) {
      icxMgmt_types_free(&m2);
      break;
    }
    assert_int_equal(rc, ICX_ENOMEM);
  }
  /* the encoder */
  for (long k = 0;; k++) {
    AllocState st = {0, k};
    icxAllocator a = alloc_with(&st);
    icx_principal p;
    memset(&p, 0, sizeof p);
    uint8_t *out = (uint8_t *)1;
    size_t on = 5;
    icx_status rc = icxMgmt_encode_create_result(&m, &a, &p, &out, &on, NULL);
    if (rc == ICX_OK) {
      icxCore_free(&a, out, on);
      break;
    }
    assert_int_equal(rc, ICX_ENOMEM);
    assert_null(out);
  }
  icxMgmt_types_free(&m);
  test_free(b);
}

static void test_type_builder_rules(void **state) {
  (void)state;
  icxAllocator a = alloc_with(NULL);
  icxCandidTypes tt;
  icxCandidTypes_init(&tt, &a);
  int32_t r;
  icxErr err;
  icxCandidFieldSpec dup[2] = {{"a", 0, ICX_CT_NAT}, {"a", 0, ICX_CT_INT}};
  assert_int_equal(icxCandidTypes_record(&tt, dup, 2, &r, &err), ICX_EINVAL);
  assert_non_null(strstr(err.msg, "duplicate"));
  icxCandidFieldSpec byid[2] = {{NULL, 5, ICX_CT_NAT}, {NULL, 1, ICX_CT_TEXT}};
  assert_int_equal(icxCandidTypes_record(&tt, byid, 2, &r, &err), ICX_OK);
  assert_int_equal(tt.fields[tt.entries[r].first].id, 1); /* sorted */
  assert_int_equal(icxCandidTypes_opt(&tt, 99, &r, &err), ICX_EINVAL);
  assert_int_equal(icxCandidTypes_vec(&tt, -30, &r, &err), ICX_EINVAL);
  assert_int_equal(icxCandidTypes_kind(&tt, ICX_CT_PRINCIPAL), ICX_CT_PRINCIPAL);
  assert_int_equal(icxCandidTypes_kind(&tt, 0), ICX_CT_RECORD);
  assert_int_equal(icxCandidTypes_kind(&tt, -30), 0);
  icxCandidTypes_free(&tt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idl_hash_known_values),
      cmocka_unit_test(test_create_reply_matches_drun),
      cmocka_unit_test(test_raw_rand_and_empty_replies_decode),
      cmocka_unit_test(test_install_code_old_mode_variant),
      cmocka_unit_test(test_install_code_upgrade_options),
      cmocka_unit_test(test_provisional_create_and_top_up),
      cmocka_unit_test(test_special_opt_rule_and_coercion),
      cmocka_unit_test(test_update_settings_and_status_reply),
      cmocka_unit_test(test_roundtrip_all_primitives),
      cmocka_unit_test(test_int_nat_edges),
      cmocka_unit_test(test_missing_and_extra_arguments),
      cmocka_unit_test(test_malformed_messages),
      cmocka_unit_test(test_truncations_and_bit_flips),
      cmocka_unit_test(test_limits_depth_steps_alloc),
      cmocka_unit_test(test_out_of_memory_sweep),
      cmocka_unit_test(test_type_builder_rules),
  };
  return cmocka_run_group_tests_name("unit_candid", tests, NULL, NULL);
}
