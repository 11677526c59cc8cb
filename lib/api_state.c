/* api_state.c -- the public round API of include/icexec.h: engine subnet
 * configuration, states, batches, management helpers, icx_execute_round and
 * round outputs (docs/round.md).  Thin wrappers over lib/round.h and
 * lib/state.h; checkpoints are in api_ckpt.c. */
#include "api.h"
#include "pool.h"

#include <blake2.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "candid_mgmt.h"
#include "principal.h"

_Static_assert((int)ICX_REJECT_CODE_SYS_FATAL == (int)ICX_REJECT_SYS_FATAL &&
                   (int)ICX_REJECT_CODE_CANISTER_ERROR == (int)ICX_REJECT_CANISTER_ERROR &&
                   (int)ICX_REJECT_CODE_SYS_UNKNOWN == (int)ICX_REJECT_SYS_UNKNOWN,
               "reject codes");
_Static_assert((int)ICX_SUBNET_TYPE_SYSTEM == (int)ICX_SUBNET_SYSTEM &&
                   (int)ICX_SUBNET_TYPE_VERIFIED_APPLICATION == (int)ICX_SUBNET_VERIFIED,
               "subnet types");
_Static_assert((int)ICX_MODE_INSTALL == (int)ICX_INSTALL_MODE_INSTALL &&
                   (int)ICX_MODE_REINSTALL == (int)ICX_INSTALL_MODE_REINSTALL &&
                   (int)ICX_MODE_UPGRADE == (int)ICX_INSTALL_MODE_UPGRADE,
               "install modes");

/* Batch limits (reference 6.6, 6.7). */
#define BATCH_MAX_INGRESS 1000u
#define BATCH_MAX_PAYLOAD (4u << 20)
#define INGRESS_MAX_BYTES (2u << 20)
#define METHOD_MAX_BYTES 20000u
#define SIG_MAX_BYTES 1024u

/* Doubly linked engine lists. */
#define LIST_PUSH(head, x)                                                                         \
  do {                                                                                             \
    (x)->prev = NULL;                                                                              \
    (x)->next = (head);                                                                            \
    if (head) (head)->prev = (x);                                                                  \
    (head) = (x);                                                                                  \
  } while (0)
#define LIST_DROP(head, x)                                                                         \
  do {                                                                                             \
    if ((x)->prev)                                                                                 \
      (x)->prev->next = (x)->next;                                                                 \
    else                                                                                           \
      (head) = (x)->next;                                                                          \
    if ((x)->next) (x)->next->prev = (x)->prev;                                                    \
  } while (0)

static int state_ok(const icx_state *s) {
  return s && s->magic == ICX_MAGIC_STATE && icxApi_engine_ok(s->engine);
}
static int batch_ok(const icx_batch *b) {
  return b && b->magic == ICX_MAGIC_BATCH && icxApi_engine_ok(b->engine);
}
static int output_ok(const icx_round_output *o) {
  return o && o->magic == ICX_MAGIC_OUTPUT && icxApi_engine_ok(o->engine);
}

/* Record rc on the engine with the message the callee left (or the status text). */
static icx_status fail(icx_engine *e, icx_status rc) {
  e->err.status = rc;
  if (e->err.msg[0] == 0) {
    const char *t = icx_strerror(rc);
    size_t n = strlen(t);
    if (n >= sizeof e->err.msg) n = sizeof e->err.msg - 1;
    memcpy(e->err.msg, t, n);
    e->err.msg[n] = 0;
  }
  return rc;
}

/* ---- engine configuration ------------------------------------------------------------ */

icx_status icxApi_engine_config(icx_engine *e, const icx_engine_opts *o) {
  icxRtConfig *c = &e->rtcfg;
  icxRtConfig_defaults(c);
  icxRoundLimits_defaults(&e->limits);
  if (o->subnet_type > ICX_SUBNET_TYPE_VERIFIED_APPLICATION)
    return icxErr_set(&e->err, ICX_EINVAL, "engine: unknown subnet type %u",
                      (unsigned)o->subnet_type);
  c->subnet_type = (uint8_t)o->subnet_type;
  if (o->subnet_type == ICX_SUBNET_TYPE_SYSTEM) { /* reference section 5 */
    icxFees_system_subnet(&c->fees);
    c->max_instructions_message = 50000000000ull;
    c->max_instructions_install = 1000000000000ull;
    c->max_instructions_install_slice = 5000000000ull;
    c->per_byte_sysapi_charges = 0;
    e->limits.max_instructions_round = 7000000000ull;
  }
  if (o->subnet_size) c->subnet_size = o->subnet_size;
  if (o->max_instructions_message) c->max_instructions_message = o->max_instructions_message;
  if (o->max_instructions_slice) c->max_instructions_slice = o->max_instructions_slice;
  if (o->max_instructions_install) c->max_instructions_install = o->max_instructions_install;
  if (o->max_instructions_install_slice)
    c->max_instructions_install_slice = o->max_instructions_install_slice;
  if (o->max_instructions_query) c->max_instructions_query = o->max_instructions_query;
  if (o->max_instructions_round) e->limits.max_instructions_round = o->max_instructions_round;
  if (o->scheduler_cores) e->limits.cores = o->scheduler_cores;
  e->threads = o->threads ? o->threads : 1;
  if (e->threads > ICX_POOL_MAX_THREADS)
    return icxErr_set(&e->err, ICX_EINVAL, "engine: %u threads (at most %u)",
                      (unsigned)o->threads, ICX_POOL_MAX_THREADS);
  c->debug_print = o->debug_print;
  c->debug_print_ud = o->debug_print_ud;
  if (o->subnet_public_key_len > 4096 || (!o->subnet_public_key && o->subnet_public_key_len))
    return icxErr_set(&e->err, ICX_EINVAL, "engine: subnet public key NULL or over 4096 bytes");
  e->verify = o->verify_random_sig;
  e->verify_ud = o->verify_random_sig_ud;
  if (o->subnet_public_key_len) {
    e->pubkey = icxCore_alloc(&e->alloc, o->subnet_public_key_len);
    if (!e->pubkey) return icxErr_set(&e->err, ICX_ENOMEM, "engine: out of memory");
    memcpy(e->pubkey, o->subnet_public_key, o->subnet_public_key_len);
    e->pubkey_len = o->subnet_public_key_len;
  }
  uint64_t s = c->max_instructions_slice > c->max_instructions_install_slice
                   ? c->max_instructions_slice
                   : c->max_instructions_install_slice;
  if (c->max_instructions_slice > c->max_instructions_message ||
      c->max_instructions_install_slice > c->max_instructions_install)
    return icxErr_set(&e->err, ICX_EINVAL, "engine: a slice limit exceeds its message limit");
  if (e->limits.max_instructions_round < s || e->limits.max_instructions_round > (uint64_t)INT64_MAX)
    return icxErr_set(&e->err, ICX_EINVAL,
                      "engine: max_instructions_round %llu is below the largest slice %llu",
                      (unsigned long long)e->limits.max_instructions_round,
                      (unsigned long long)s);
  if (e->limits.cores > 64)
    return icxErr_set(&e->err, ICX_EINVAL, "engine: more than 64 scheduler cores");
  return ICX_OK;
}

static void state_destroy(icx_state *s);
static void batch_destroy(icx_batch *b);
static void output_destroy(icx_round_output *o);

void icxApi_engine_free_rounds(icx_engine *e) {
  icxApi_engine_free_snapshots(e);
  while (e->outputs) output_destroy(e->outputs);
  while (e->batches) batch_destroy(e->batches);
  while (e->states) state_destroy(e->states);
  icxPool_free(e->pool);
  e->pool = NULL;
}

/* ---- states ----------------------------------------------------------------------------- */

icx_status icxApi_state_wrap(icx_engine *e, icxState *st, icx_state **out) {
  icx_state *s = icxCore_alloc(&e->alloc, sizeof *s);
  if (!s) {
    icxState_free(st);
    return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  }
  s->magic = ICX_MAGIC_STATE;
  s->engine = e;
  s->st = st;
  LIST_PUSH(e->states, s);
  *out = s;
  return ICX_OK;
}

icx_status icx_state_new(icx_engine *engine, icx_state **out_state) {
  if (out_state) *out_state = NULL;
  if (!icxApi_engine_ok(engine)) return ICX_EMISUSE;
  icx_engine *e = engine;
  icxErr_clear(&e->err);
  if (!out_state) return icxErr_set(&e->err, ICX_EINVAL, "icx_state_new: out_state is NULL");
  icxState *st = NULL;
  icx_status rc = icxState_new(&e->alloc, &e->rtcfg, NULL, &st, &e->err);
  if (rc) return fail(e, rc);
  rc = icxApi_state_wrap(e, st, out_state);
  return rc ? fail(e, rc) : ICX_OK;
}

static void state_destroy(icx_state *s) {
  icx_engine *e = s->engine;
  LIST_DROP(e->states, s);
  icxCkpt_close(s->ckpt);
  if (s->ckpt_dir) icxCore_free(&e->alloc, s->ckpt_dir, strlen(s->ckpt_dir) + 1);
  icxSched_free(&e->alloc, &s->sched);
  icxState_free(s->st);
  s->magic = ICX_MAGIC_DEAD;
  icxCore_free(&e->alloc, s, sizeof *s);
}

void icx_state_free(icx_state *state) {
  if (!state_ok(state)) return;
  state_destroy(state);
}

/* The subnet hash: the replicated state and the scheduler state. */
static icx_status subnet_hash(const icx_state *s, uint8_t out[32], icxErr *err) {
  uint8_t h1[32], h2[32];
  icx_status rc = icxState_hash(s->st, h1, err);
  if (rc == ICX_OK) rc = icxSched_hash(&s->sched, h2, err);
  if (rc) return rc;
  blake2b_state h;
  static const char tag[] = "icx.subnet.v1";
  if (blake2b_init(&h, 32) != 0) return icxErr_set(err, ICX_EINTERNAL, "blake2b_init");
  blake2b_update(&h, (const uint8_t *)tag, sizeof tag - 1);
  blake2b_update(&h, h1, 32);
  blake2b_update(&h, h2, 32);
  if (blake2b_final(&h, out, 32) != 0) return icxErr_set(err, ICX_EINTERNAL, "blake2b_final");
  return ICX_OK;
}

icx_status icx_state_hash(const icx_state *state, uint8_t out_hash[32]) {
  if (!state_ok(state)) return ICX_EMISUSE;
  icx_engine *e = state->engine;
  icxErr_clear(&e->err);
  if (!out_hash) return icxErr_set(&e->err, ICX_EINVAL, "icx_state_hash: out_hash is NULL");
  icx_status rc = subnet_hash(state, out_hash, &e->err);
  return rc ? fail(e, rc) : ICX_OK;
}

uint64_t icx_state_round(const icx_state *state) {
  return state_ok(state) ? state->st->round : 0;
}

uint64_t icx_state_canister_count(const icx_state *state) {
  return state_ok(state) ? state->st->ncan : 0;
}

/* ---- batches ------------------------------------------------------------------------------ */

icx_status icx_batch_new(icx_engine *engine, uint64_t round, uint64_t time_ns,
                         const uint8_t *random_sig, size_t len, icx_batch **out_batch) {
  if (out_batch) *out_batch = NULL;
  if (!icxApi_engine_ok(engine)) return ICX_EMISUSE;
  icx_engine *e = engine;
  icxErr_clear(&e->err);
  if (!out_batch) return icxErr_set(&e->err, ICX_EINVAL, "icx_batch_new: out_batch is NULL");
  if ((!random_sig && len > 0) || len > SIG_MAX_BYTES)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_batch_new: random_sig NULL or len %zu > %u",
                      len, SIG_MAX_BYTES);
  icx_batch *b = icxCore_alloc(&e->alloc, sizeof *b);
  uint8_t *sig = len ? icxCore_alloc(&e->alloc, len) : NULL;
  if (!b || (len && !sig)) {
    icxCore_free(&e->alloc, b, sizeof *b);
    icxCore_free(&e->alloc, sig, len);
    return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  }
  if (len) memcpy(sig, random_sig, len);
  b->magic = ICX_MAGIC_BATCH;
  b->engine = e;
  b->round = round;
  b->time_ns = time_ns;
  b->sig = sig;
  b->sig_len = len;
  LIST_PUSH(e->batches, b);
  *out_batch = b;
  return ICX_OK;
}

static void batch_destroy(icx_batch *b) {
  icx_engine *e = b->engine;
  LIST_DROP(e->batches, b);
  icxMsgList_free(&e->alloc, &b->ingress);
  icxMsgList_free(&e->alloc, &b->xnet);
  icxCore_free(&e->alloc, b->sig, b->sig_len);
  b->magic = ICX_MAGIC_DEAD;
  icxCore_free(&e->alloc, b, sizeof *b);
}

void icx_batch_free(icx_batch *batch) {
  if (!batch_ok(batch)) return;
  batch_destroy(batch);
}

icx_status icx_batch_set_checkpoint(icx_batch *batch, int32_t checkpoint) {
  if (!batch_ok(batch)) return ICX_EMISUSE;
  icxErr_clear(&batch->engine->err);
  batch->checkpoint = checkpoint != 0;
  return ICX_OK;
}

uint64_t icx_batch_ingress_count(const icx_batch *batch) {
  return batch_ok(batch) ? batch->ingress.n : 0;
}

static void put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The message id of the next ingress of b (see icx_batch_add_ingress). */
static void message_id(const icx_batch *b, const icxMsg *m, uint8_t out[32]) {
  crypto_hash_sha256_state h;
  uint8_t buf[64];
  static const char tag[] = "icx.ingress.v1";
  crypto_hash_sha256_init(&h);
  crypto_hash_sha256_update(&h, (const uint8_t *)tag, sizeof tag - 1);
  put_le(buf, b->round, 8);
  put_le(buf + 8, b->ingress.n, 4);
  crypto_hash_sha256_update(&h, buf, 12);
  buf[0] = m->src.len;
  crypto_hash_sha256_update(&h, buf, 1);
  crypto_hash_sha256_update(&h, m->src.bytes, m->src.len);
  buf[0] = m->dst.len;
  crypto_hash_sha256_update(&h, buf, 1);
  crypto_hash_sha256_update(&h, m->dst.bytes, m->dst.len);
  put_le(buf, m->method_len, 4);
  crypto_hash_sha256_update(&h, buf, 4);
  crypto_hash_sha256_update(&h, (const uint8_t *)m->method, m->method_len);
  put_le(buf, m->len, 8);
  crypto_hash_sha256_update(&h, buf, 8);
  if (m->len) crypto_hash_sha256_update(&h, m->data, m->len);
  crypto_hash_sha256_final(&h, out);
}

/* Add an ingress message whose argument is arg[0..len), or takes *owned
 * (an allocated buffer of len bytes from the engine allocator) if not NULL. */
static icx_status add_ingress(icx_batch *b, const icx_principal *sender,
                              const icx_principal *canister, const char *method,
                              const uint8_t *arg, size_t len, uint8_t **owned,
                              icx_message_id *out_id) {
  icx_engine *e = b->engine;
  icxErr *err = &e->err;
  icx_status rc = ICX_OK;
  icxMsg m;
  memset(&m, 0, sizeof m);
  if (out_id) memset(out_id, 0, sizeof *out_id);
  size_t mlen = method ? strlen(method) : 0;
  if (!sender || !canister || !method || (!arg && len > 0) ||
      sender->len > ICX_PRINCIPAL_MAX_BYTES || canister->len > ICX_PRINCIPAL_MAX_BYTES)
    rc = icxErr_set(err, ICX_EINVAL, "ingress: NULL or invalid sender, canister, method or arg");
  else if (mlen > METHOD_MAX_BYTES || len > INGRESS_MAX_BYTES)
    rc = icxErr_set(err, ICX_EINVAL, "ingress: method of %zu bytes or argument of %zu bytes "
                    "too large", mlen, len);
  else if (b->ingress.n >= BATCH_MAX_INGRESS || b->payload + mlen + len > BATCH_MAX_PAYLOAD)
    rc = icxErr_set(err, ICX_ELIMIT, "ingress: the batch holds %u messages / %llu bytes already",
                    (unsigned)b->ingress.n, (unsigned long long)b->payload);
  if (rc) goto fail;
  m.kind = ICX_MSG_INGRESS;
  m.src = *sender;
  m.dst = *canister;
  memset(m.src.bytes + m.src.len, 0, sizeof m.src.bytes - m.src.len);
  memset(m.dst.bytes + m.dst.len, 0, sizeof m.dst.bytes - m.dst.len);
  m.method_len = (uint32_t)mlen;
  m.method = icxCore_alloc(&e->alloc, mlen + 1);
  if (!m.method) {
    rc = icxErr_set(err, ICX_ENOMEM, "out of memory");
    goto fail;
  }
  memcpy(m.method, method, mlen + 1);
  if (owned && *owned) {
    m.data = *owned;
    *owned = NULL;
  } else if (len) {
    m.data = icxCore_alloc(&e->alloc, len);
    if (!m.data) {
      rc = icxErr_set(err, ICX_ENOMEM, "out of memory");
      goto fail;
    }
    memcpy(m.data, arg, len);
  }
  m.len = len;
  message_id(b, &m, m.msg_id);
  uint8_t id[32];
  memcpy(id, m.msg_id, 32);
  rc = icxMsgList_push(&e->alloc, &b->ingress, &m, err); /* frees m on failure */
  if (rc) return fail(e, rc);
  b->payload += mlen + len;
  if (out_id) memcpy(out_id->bytes, id, 32);
  return ICX_OK;
fail:
  if (owned && *owned) {
    icxCore_free(&e->alloc, *owned, len);
    *owned = NULL;
  }
  icxState_msg_clear(&e->alloc, &m);
  return fail(e, rc);
}

icx_status icx_batch_add_ingress(icx_batch *batch, const icx_principal *sender,
                                 const icx_principal *canister, const char *method,
                                 const uint8_t *arg, size_t len, icx_message_id *out_id) {
  if (out_id) memset(out_id, 0, sizeof *out_id);
  if (!batch_ok(batch)) return ICX_EMISUSE;
  icxErr_clear(&batch->engine->err);
  return add_ingress(batch, sender, canister, method, arg, len, NULL, out_id);
}

/* ---- messages from other subnets --------------------------------------------------------- */

icx_status icx_batch_add_xnet(icx_batch *batch, const icx_xnet_message *x) {
  if (!batch_ok(batch)) return ICX_EMISUSE;
  icx_engine *e = batch->engine;
  icxErr *err = &e->err;
  icxErr_clear(err);
  if (!x || x->struct_size < offsetof(icx_xnet_message, deadline_ns) + 8)
    return fail(e, icxErr_set(err, ICX_EINVAL, "xnet: NULL message or struct_size too small"));
  int req = x->kind == ICX_XNET_REQUEST;
  size_t mlen = req && x->method ? strlen(x->method) : 0;
  if (x->kind != ICX_XNET_REQUEST && x->kind != ICX_XNET_RESPONSE)
    return fail(e, icxErr_set(err, ICX_EINVAL, "xnet: unknown kind %u", (unsigned)x->kind));
  if (x->src.len > ICX_PRINCIPAL_MAX_BYTES || x->dst.len > ICX_PRINCIPAL_MAX_BYTES ||
      (req && !x->method) || (!x->data && x->len > 0))
    return fail(e, icxErr_set(err, ICX_EINVAL, "xnet: invalid principal, method or data"));
  if (mlen > METHOD_MAX_BYTES || x->len > INGRESS_MAX_BYTES)
    return fail(e, icxErr_set(err, ICX_EINVAL, "xnet: method of %zu bytes or data of %zu bytes "
                              "too large", mlen, x->len));
  if (!req && x->reject_code > ICX_REJECT_CODE_SYS_UNKNOWN)
    return fail(e, icxErr_set(err, ICX_EINVAL, "xnet: reject code %u", (unsigned)x->reject_code));
  if (batch->xnet.n >= BATCH_MAX_INGRESS * 10 || batch->payload + mlen + x->len > BATCH_MAX_PAYLOAD)
    return fail(e, icxErr_set(err, ICX_ELIMIT, "xnet: the batch holds %u messages / %llu bytes "
                              "already", (unsigned)batch->xnet.n,
                              (unsigned long long)batch->payload));
  icxMsg m;
  memset(&m, 0, sizeof m);
  m.kind = req ? ICX_MSG_REQUEST : ICX_MSG_RESPONSE;
  m.src = x->src;
  m.dst = x->dst;
  memset(m.src.bytes + m.src.len, 0, sizeof m.src.bytes - m.src.len);
  memset(m.dst.bytes + m.dst.len, 0, sizeof m.dst.bytes - m.dst.len);
  m.cycles.hi = x->cycles_hi;
  m.cycles.lo = x->cycles_lo;
  m.callback = x->callback;
  m.reject_code = req ? 0 : x->reject_code;
  m.deadline = x->deadline_ns;
  if (req) {
    m.method_len = (uint32_t)mlen;
    m.method = icxCore_alloc(&e->alloc, mlen + 1);
    if (!m.method) return fail(e, icxErr_set(err, ICX_ENOMEM, "out of memory"));
    memcpy(m.method, x->method, mlen + 1);
  }
  if (x->len) {
    m.data = icxCore_alloc(&e->alloc, x->len);
    if (!m.data) {
      icxState_msg_clear(&e->alloc, &m);
      return fail(e, icxErr_set(err, ICX_ENOMEM, "out of memory"));
    }
    memcpy(m.data, x->data, x->len);
  }
  m.len = x->len;
  icx_status rc = icxMsgList_push(&e->alloc, &batch->xnet, &m, err); /* frees m on failure */
  if (rc) return fail(e, rc);
  batch->payload += mlen + x->len;
  return ICX_OK;
}

uint64_t icx_batch_xnet_count(const icx_batch *batch) {
  return batch_ok(batch) ? batch->xnet.n : 0;
}

/* ---- management helpers ------------------------------------------------------------------ */

icx_status icx_batch_add_management(icx_batch *batch, const icx_principal *sender,
                                    const char *method, const uint8_t *candid, size_t len,
                                    icx_message_id *out_id) {
  if (out_id) memset(out_id, 0, sizeof *out_id);
  if (!batch_ok(batch)) return ICX_EMISUSE;
  icxErr_clear(&batch->engine->err);
  icx_principal mgmt = icxPrincipal_management();
  return add_ingress(batch, sender, &mgmt, method, candid, len, NULL, out_id);
}

/* A record value of entry ref: fields named in names[0..n) get vals, every
 * other field is opt null.  items has room for the entry's fields (<= 8). */
static icxCandidValue record(const icxCandidTypes *t, int32_t ref, icxCandidValue *items,
                             const char *const *names, const icxCandidValue *vals, size_t n) {
  const icxCandidEntry *en = &t->entries[ref];
  for (uint32_t i = 0; i < en->nfields && i < 8; i++) {
    uint32_t id = t->fields[en->first + i].id;
    items[i] = icxCandid_v_opt(NULL);
    for (size_t k = 0; k < n; k++)
      if (icxCandid_hash(names[k]) == id) items[i] = vals[k];
    items[i].id = id;
  }
  return icxCandid_v_record(items, en->nfields < 8 ? en->nfields : 8);
}

/* Position of field `name` in entry ref (UINT32_MAX if absent) and its type. */
static uint32_t field_pos(const icxCandidTypes *t, int32_t ref, const char *name, int32_t *type) {
  const icxCandidEntry *en = &t->entries[ref];
  for (uint32_t i = 0; i < en->nfields; i++)
    if (t->fields[en->first + i].id == icxCandid_hash(name)) {
      if (type) *type = t->fields[en->first + i].type;
      return i;
    }
  return UINT32_MAX;
}

typedef enum { ARG_CREATE, ARG_INSTALL, ARG_CANISTER_ID } ArgKind;

typedef struct MgmtArg {
  ArgKind kind;
  const icx_principal *canister; /* install, canister id; create: specified id or NULL */
  uint64_t hi, lo;               /* create */
  int32_t mode;                  /* install */
  int32_t skip_pre_upgrade;      /* install, mode upgrade: 1 sends skip_pre_upgrade = opt true */
  int32_t persistence;           /* install, mode upgrade: ICX_MEMORY_PERSISTENCE_* */
  const uint8_t *wasm, *arg;
  size_t wasm_len, arg_len;
} MgmtArg;

/* Encode a management argument with the engine's allocator. */
static icx_status encode_mgmt(icx_engine *e, const MgmtArg *x, uint8_t **out, size_t *out_len) {
  icxMgmtTypes mt;
  icx_status rc = icxMgmt_types_init(&mt, &e->alloc, &e->err);
  if (rc) return rc;
  const icxCandidTypes *t = &mt.t;
  /* every value referenced by pointer lives until the encode below */
  icxCandidValue items[8], v, inner, opt, amount, id;
  icxCandidValue uitems[2], urec, skip, skip_opt, pcase_null = icxCandid_v_null(), pcase,
      pcase_opt;
  int32_t type = 0;
  switch (x->kind) {
  case ARG_CREATE: {
    amount = icxCandid_v_nat(x->lo, x->hi);
    icxCandidValue amount_opt = icxCandid_v_opt(&amount);
    id = x->canister ? icxCandid_v_principal(x->canister->bytes, x->canister->len)
                     : icxCandid_v_null();
    icxCandidValue id_opt = x->canister ? icxCandid_v_opt(&id) : icxCandid_v_opt(NULL);
    static const char *const names[2] = {"amount", "specified_id"};
    icxCandidValue vals[2] = {amount_opt, id_opt};
    v = record(t, mt.provisional_create_args, items, names, vals, 2);
    type = mt.provisional_create_args;
    break;
  }
  case ARG_INSTALL: {
    int32_t mode_t = 0;
    (void)field_pos(t, mt.install_code_args, "mode", &mode_t);
    static const char *const cases[3] = {"install", "reinstall", "upgrade"};
    uint32_t ci = field_pos(t, mode_t, cases[x->mode], NULL);
    if (ci == UINT32_MAX) {
      rc = icxErr_set(&e->err, ICX_EINTERNAL, "install_code: mode variant");
      goto done;
    }
    inner = icxCandid_v_null();
    opt = icxCandid_v_opt(NULL);
    /* upgrade: opt record { skip_pre_upgrade: opt bool;
     *                       wasm_memory_persistence: opt variant { keep; replace } } */
    if (x->mode == ICX_MODE_UPGRADE &&
        (x->skip_pre_upgrade || x->persistence != ICX_MEMORY_PERSISTENCE_UNSET)) {
      int32_t opt_upg = 0, upg_t = 0, opt_persist = 0, persist_t = 0;
      (void)field_pos(t, mode_t, "upgrade", &opt_upg);
      upg_t = t->entries[opt_upg].inner;
      (void)field_pos(t, upg_t, "wasm_memory_persistence", &opt_persist);
      persist_t = t->entries[opt_persist].inner;
      skip = icxCandid_v_bool(1);
      skip_opt = x->skip_pre_upgrade ? icxCandid_v_opt(&skip) : icxCandid_v_opt(NULL);
      uint32_t pk = field_pos(t, persist_t,
                              x->persistence == ICX_MEMORY_PERSISTENCE_KEEP ? "keep" : "replace",
                              NULL);
      pcase = icxCandid_v_variant(pk, &pcase_null);
      pcase_opt = x->persistence != ICX_MEMORY_PERSISTENCE_UNSET ? icxCandid_v_opt(&pcase)
                                                                  : icxCandid_v_opt(NULL);
      static const char *const unames[2] = {"skip_pre_upgrade", "wasm_memory_persistence"};
      icxCandidValue uvals[2] = {skip_opt, pcase_opt};
      urec = record(t, upg_t, uitems, unames, uvals, 2);
      opt = icxCandid_v_opt(&urec);
    }
    icxCandidValue modev = icxCandid_v_variant(ci, x->mode == ICX_MODE_UPGRADE ? &opt : &inner);
    static const char *const names[4] = {"mode", "canister_id", "wasm_module", "arg"};
    icxCandidValue vals[4] = {modev, icxCandid_v_principal(x->canister->bytes, x->canister->len),
                              icxCandid_v_blob(x->wasm, x->wasm_len),
                              icxCandid_v_blob(x->arg, x->arg_len)};
    v = record(t, mt.install_code_args, items, names, vals, 4);
    type = mt.install_code_args;
    break;
  }
  default: {
    static const char *const names[1] = {"canister_id"};
    icxCandidValue vals[1] = {icxCandid_v_principal(x->canister->bytes, x->canister->len)};
    v = record(t, mt.canister_id_record, items, names, vals, 1);
    type = mt.canister_id_record;
    break;
  }
  }
  rc = icxCandid_encode(&e->alloc, t, &type, &v, 1, out, out_len, &e->err);
done:
  icxMgmt_types_free(&mt);
  return rc;
}

static icx_status add_mgmt(icx_batch *b, const icx_principal *sender, const char *method,
                           const MgmtArg *x, icx_message_id *out_id) {
  icx_engine *e = b->engine;
  uint8_t *bytes = NULL;
  size_t n = 0;
  icx_status rc = encode_mgmt(e, x, &bytes, &n);
  if (rc) return fail(e, rc);
  icx_principal mgmt = icxPrincipal_management();
  return add_ingress(b, sender, &mgmt, method, bytes, n, &bytes, out_id);
}

icx_status icx_batch_add_create_canister(icx_batch *batch, const icx_principal *sender,
                                         uint64_t cycles_hi, uint64_t cycles_lo,
                                         const icx_principal *specified_id,
                                         icx_message_id *out_id) {
  if (out_id) memset(out_id, 0, sizeof *out_id);
  if (!batch_ok(batch)) return ICX_EMISUSE;
  icx_engine *e = batch->engine;
  icxErr_clear(&e->err);
  if (!sender || (specified_id && specified_id->len > ICX_PRINCIPAL_MAX_BYTES))
    return icxErr_set(&e->err, ICX_EINVAL, "create canister: NULL sender or invalid id");
  MgmtArg x;
  memset(&x, 0, sizeof x);
  x.kind = ARG_CREATE;
  x.canister = specified_id;
  x.hi = cycles_hi;
  x.lo = cycles_lo;
  return add_mgmt(batch, sender, "provisional_create_canister_with_cycles", &x, out_id);
}

icx_status icx_batch_add_install_code_opts(icx_batch *batch, const icx_principal *sender,
                                           const icx_principal *canister, int32_t mode,
                                           const uint8_t *wasm, size_t wasm_len,
                                           const uint8_t *arg, size_t arg_len,
                                           const icx_install_options *opts,
                                           icx_message_id *out_id) {
  if (out_id) memset(out_id, 0, sizeof *out_id);
  if (!batch_ok(batch)) return ICX_EMISUSE;
  icx_engine *e = batch->engine;
  icxErr_clear(&e->err);
  if (!sender || !canister || canister->len > ICX_PRINCIPAL_MAX_BYTES || !wasm ||
      (!arg && arg_len) || mode < ICX_MODE_INSTALL || mode > ICX_MODE_UPGRADE)
    return icxErr_set(&e->err, ICX_EINVAL,
                      "install code: NULL sender/canister/wasm/arg or unknown mode %d", (int)mode);
  if (wasm_len > INGRESS_MAX_BYTES)
    return icxErr_set(&e->err, ICX_EINVAL, "install code: module of %zu bytes exceeds 2 MiB",
                      wasm_len);
  MgmtArg x;
  memset(&x, 0, sizeof x);
  x.persistence = ICX_MEMORY_PERSISTENCE_UNSET;
  if (opts) {
    if (opts->struct_size < sizeof *opts || opts->skip_pre_upgrade < 0 ||
        opts->skip_pre_upgrade > 1 || opts->wasm_memory_persistence < 0 ||
        opts->wasm_memory_persistence > ICX_MEMORY_PERSISTENCE_REPLACE)
      return icxErr_set(&e->err, ICX_EINVAL,
                        "install code: options: struct_size %u, skip_pre_upgrade %d, "
                        "wasm_memory_persistence %d",
                        (unsigned)opts->struct_size, (int)opts->skip_pre_upgrade,
                        (int)opts->wasm_memory_persistence);
    x.skip_pre_upgrade = opts->skip_pre_upgrade;
    x.persistence = opts->wasm_memory_persistence;
  }
  x.kind = ARG_INSTALL;
  x.canister = canister;
  x.mode = mode;
  x.wasm = wasm;
  x.wasm_len = wasm_len;
  x.arg = arg;
  x.arg_len = arg_len;
  return add_mgmt(batch, sender, "install_code", &x, out_id);
}

icx_status icx_batch_add_install_code(icx_batch *batch, const icx_principal *sender,
                                      const icx_principal *canister, int32_t mode,
                                      const uint8_t *wasm, size_t wasm_len, const uint8_t *arg,
                                      size_t arg_len, icx_message_id *out_id) {
  return icx_batch_add_install_code_opts(batch, sender, canister, mode, wasm, wasm_len, arg,
                                         arg_len, NULL, out_id);
}

icx_status icx_batch_add_canister_op(icx_batch *batch, const icx_principal *sender,
                                     const char *method, const icx_principal *canister,
                                     icx_message_id *out_id) {
  if (out_id) memset(out_id, 0, sizeof *out_id);
  if (!batch_ok(batch)) return ICX_EMISUSE;
  icx_engine *e = batch->engine;
  icxErr_clear(&e->err);
  if (!sender || !method || !canister || canister->len > ICX_PRINCIPAL_MAX_BYTES)
    return icxErr_set(&e->err, ICX_EINVAL, "canister op: NULL sender, method or canister");
  MgmtArg x;
  memset(&x, 0, sizeof x);
  x.kind = ARG_CANISTER_ID;
  x.canister = canister;
  return add_mgmt(batch, sender, method, &x, out_id);
}

icx_status icx_reply_canister_id(const uint8_t *reply, size_t len, icx_principal *out) {
  if (out) memset(out, 0, sizeof *out);
  if (!out || (!reply && len)) return ICX_EINVAL;
  icxAllocator a = icxCore_default_allocator();
  icxMgmtTypes mt;
  icx_status rc = icxMgmt_types_init(&mt, &a, NULL);
  if (rc) return rc;
  rc = icxMgmt_decode_canister_id(&mt, reply ? reply : (const uint8_t *)"", len, out, NULL);
  icxMgmt_types_free(&mt);
  if (rc == ICX_ENOMEM) return rc;
  if (rc) {
    memset(out, 0, sizeof *out);
    return ICX_EMALFORMED;
  }
  return ICX_OK;
}

/* ---- rounds ------------------------------------------------------------------------------- */

static void output_destroy(icx_round_output *o) {
  icx_engine *e = o->engine;
  LIST_DROP(e->outputs, o);
  icxMsgList_free(&e->alloc, &o->ingress);
  icxMsgList_free(&e->alloc, &o->xnet);
  icxRoundStats_free(&e->alloc, &o->stats);
  o->magic = ICX_MAGIC_DEAD;
  icxCore_free(&e->alloc, o, sizeof *o);
}

void icx_round_output_free(icx_round_output *output) {
  if (!output_ok(output)) return;
  output_destroy(output);
}

icx_status icx_execute_round(icx_engine *engine, icx_state *state, const icx_batch *batch,
                             icx_round_output **out_output) {
  if (out_output) *out_output = NULL;
  if (!icxApi_engine_ok(engine)) return ICX_EMISUSE;
  icx_engine *e = engine;
  icxErr_clear(&e->err);
  if (!state_ok(state) || !batch_ok(batch) || state->engine != e || batch->engine != e)
    return icxErr_set(&e->err, ICX_EMISUSE,
                      "icx_execute_round: invalid state or batch, or of another engine");
  if (!out_output) return icxErr_set(&e->err, ICX_EINVAL, "icx_execute_round: out_output NULL");
  icxState *st = state->st;
  if (batch->round <= st->round && !(st->round == 0 && !st->have_tape && batch->round == 0))
    return icxErr_set(&e->err, ICX_EINVAL, "icx_execute_round: round %llu is not after %llu",
                      (unsigned long long)batch->round, (unsigned long long)st->round);
  if (batch->time_ns < st->time_ns)
    return icxErr_set(&e->err, ICX_EINVAL, "icx_execute_round: time %llu is before %llu",
                      (unsigned long long)batch->time_ns, (unsigned long long)st->time_ns);
  if (e->verify && e->verify(e->verify_ud, e->pubkey, e->pubkey_len, batch->round, batch->sig,
                             batch->sig_len) != 1)
    return icxErr_set(&e->err, ICX_EREJECTED,
                      "icx_execute_round: the random-tape signature of round %llu does not "
                      "verify against the subnet public key",
                      (unsigned long long)batch->round);
  /* the worker threads, started by the first round that can use them: one
   * per scheduler core at most */
  uint32_t nthreads = e->threads < e->limits.cores ? e->threads : e->limits.cores;
  if (nthreads > 1 && !e->pool) {
    icx_status prc = icxPool_new(&e->alloc, nthreads, &e->pool, &e->err);
    if (prc) return fail(e, prc);
  }
  icx_round_output *o = icxCore_alloc(&e->alloc, sizeof *o);
  size_t nmsgs = (size_t)batch->ingress.n + batch->xnet.n + 1;
  icxMsg *msgs = icxCore_allocn(&e->alloc, nmsgs, sizeof *msgs);
  icx_status rc = ICX_OK;
  if (!o || !msgs) {
    icxCore_free(&e->alloc, o, sizeof *o);
    icxCore_free(&e->alloc, msgs, nmsgs * sizeof *msgs);
    return icxErr_set(&e->err, ICX_ENOMEM, "out of memory");
  }
  o->magic = ICX_MAGIC_OUTPUT;
  o->engine = e;
  LIST_PUSH(e->outputs, o);
  uint32_t n = 0;
  for (; n < batch->ingress.n + batch->xnet.n && rc == ICX_OK; n++) {
    const icxMsg *src = n < batch->ingress.n ? &batch->ingress.v[n]
                                             : &batch->xnet.v[n - batch->ingress.n];
    rc = icxMsg_copy(&e->alloc, src, &msgs[n], &e->err);
  }
  if (rc == ICX_OK) {
    icxRoundInput in;
    memset(&in, 0, sizeof in);
    in.round = batch->round;
    in.time_ns = batch->time_ns;
    in.sig = batch->sig;
    in.sig_len = batch->sig_len;
    in.ingress = msgs;
    in.ningress = batch->ingress.n;
    in.xnet = msgs + batch->ingress.n;
    in.nxnet = batch->xnet.n;
    in.checkpoint = batch->checkpoint;
    in.pool = e->pool;
    rc = icxRound_execute(st, &state->sched, &e->limits, &in, &o->stats, &e->err);
    n = 0; /* taken */
  }
  for (uint32_t i = 0; i < n; i++) icxState_msg_clear(&e->alloc, &msgs[i]);
  icxCore_free(&e->alloc, msgs, nmsgs * sizeof *msgs);
  /* the round's products leave the state */
  o->ingress = st->ingress;
  o->xnet = st->outbox;
  icxState_note_exported(st, &st->outbox);
  memset(&st->ingress, 0, sizeof st->ingress);
  memset(&st->outbox, 0, sizeof st->outbox);
  if (rc == ICX_OK) rc = subnet_hash(state, o->hash, &e->err);
  if (rc) {
    output_destroy(o);
    return fail(e, rc);
  }
  *out_output = o;
  return ICX_OK;
}

/* ---- round outputs ---------------------------------------------------------------------- */

uint64_t icx_round_output_ingress_count(const icx_round_output *output) {
  return output_ok(output) ? output->ingress.n : 0;
}
uint64_t icx_round_output_xnet_count(const icx_round_output *output) {
  return output_ok(output) ? output->xnet.n : 0;
}
uint64_t icx_round_output_canister_count(const icx_round_output *output) {
  return output_ok(output) ? output->stats.n : 0;
}
uint64_t icx_round_output_instructions(const icx_round_output *output) {
  return output_ok(output) ? output->stats.instructions : 0;
}

/* Common checks of an item accessor: struct_size must cover `need` bytes. */
static icx_status item_check(const icx_round_output *o, const void *out, uint32_t struct_size,
                             size_t need, uint64_t index, uint64_t count, const char *what) {
  if (!output_ok(o)) return ICX_EMISUSE;
  icxErr_clear(&o->engine->err);
  if (!out || struct_size < need || index >= count)
    return icxErr_set(&o->engine->err, ICX_EINVAL,
                      "%s: out NULL, struct_size %u too small, or index %llu >= %llu", what,
                      (unsigned)struct_size, (unsigned long long)index,
                      (unsigned long long)count);
  return ICX_OK;
}

static void fill_ingress(const icxMsg *m, icx_ingress_result *out) {
  icx_ingress_result r;
  memset(&r, 0, sizeof r);
  r.struct_size = out->struct_size;
  r.status = m->reject_code ? ICX_INGRESS_REJECTED : ICX_INGRESS_REPLIED;
  memcpy(r.id.bytes, m->msg_id, 32);
  r.reject_code = m->reject_code;
  r.error_code = m->reject_code ? m->error_code : 0;
  r.data = m->data ? m->data : (const uint8_t *)"";
  r.len = m->len;
  size_t n = out->struct_size < sizeof r ? out->struct_size : sizeof r;
  memcpy(out, &r, n);
}

icx_status icx_round_output_ingress(const icx_round_output *output, uint64_t index,
                                    icx_ingress_result *out) {
  icx_status rc = item_check(output, out, out ? out->struct_size : 0,
                             offsetof(icx_ingress_result, len) + sizeof(size_t), index,
                             output_ok(output) ? output->ingress.n : 0, "ingress result");
  if (rc) return rc;
  fill_ingress(&output->ingress.v[index], out);
  return ICX_OK;
}

icx_status icx_round_output_find_ingress(const icx_round_output *output, const icx_message_id *id,
                                         icx_ingress_result *out) {
  if (!output_ok(output)) return ICX_EMISUSE;
  icx_engine *e = output->engine;
  icxErr_clear(&e->err);
  if (!id || !out || out->struct_size < offsetof(icx_ingress_result, len) + sizeof(size_t))
    return icxErr_set(&e->err, ICX_EINVAL, "find ingress: NULL id/out or struct_size too small");
  for (uint32_t i = 0; i < output->ingress.n; i++)
    if (memcmp(output->ingress.v[i].msg_id, id->bytes, 32) == 0) {
      fill_ingress(&output->ingress.v[i], out);
      return ICX_OK;
    }
  return icxErr_set(&e->err, ICX_ENOTFOUND, "find ingress: no result for that message in this "
                    "round");
}

icx_status icx_round_output_xnet(const icx_round_output *output, uint64_t index,
                                 icx_xnet_message *out) {
  icx_status rc = item_check(output, out, out ? out->struct_size : 0,
                             offsetof(icx_xnet_message, deadline_ns) + 8, index,
                             output_ok(output) ? output->xnet.n : 0, "xnet message");
  if (rc) return rc;
  const icxMsg *m = &output->xnet.v[index];
  icx_xnet_message r;
  memset(&r, 0, sizeof r);
  r.struct_size = out->struct_size;
  r.kind = m->kind == ICX_MSG_RESPONSE ? ICX_XNET_RESPONSE : ICX_XNET_REQUEST;
  r.src = m->src;
  r.dst = m->dst;
  r.method = m->method ? m->method : "";
  r.data = m->data ? m->data : (const uint8_t *)"";
  r.len = m->len;
  r.cycles_hi = m->cycles.hi;
  r.cycles_lo = m->cycles.lo;
  r.callback = m->callback;
  r.reject_code = m->reject_code;
  r.deadline_ns = m->deadline;
  memcpy(out, &r, out->struct_size < sizeof r ? out->struct_size : sizeof r);
  return ICX_OK;
}

icx_status icx_round_output_canister(const icx_round_output *output, uint64_t index,
                                     icx_canister_round_stats *out) {
  icx_status rc = item_check(output, out, out ? out->struct_size : 0,
                             sizeof(icx_canister_round_stats), index,
                             output_ok(output) ? output->stats.n : 0, "canister figures");
  if (rc) return rc;
  const icxRoundCanStat *s = &output->stats.v[index];
  icx_canister_round_stats r;
  memset(&r, 0, sizeof r);
  r.struct_size = out->struct_size;
  r.executions = s->executions;
  r.canister = s->id;
  r.instructions = s->instructions;
  r.cycles_hi = s->cycles.hi;
  r.cycles_lo = s->cycles.lo;
  memcpy(out, &r, sizeof r);
  return ICX_OK;
}

icx_status icx_round_output_state_hash(const icx_round_output *output, uint8_t out_hash[32]) {
  if (!output_ok(output)) return ICX_EMISUSE;
  icxErr_clear(&output->engine->err);
  if (!out_hash)
    return icxErr_set(&output->engine->err, ICX_EINVAL, "state hash: out_hash is NULL");
  memcpy(out_hash, output->hash, 32);
  return ICX_OK;
}
