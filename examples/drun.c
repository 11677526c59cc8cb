/* drun.c -- icexec-drun: run a drun script on libicexec and print drun's
 * output lines (docs/drun.md; the format is the shared reference
 * drun-format.md).  Uses only the public header.
 *
 *   icexec-drun [-c FILE] [--extra-batches N] [--log-file FILE]
 *               [--instruction-limit N] [--subnet-type system|application]
 *               MESSAGES_FILE
 *
 * Result lines go to stdout, canister debug output to stderr (one line per
 * ic0.debug_print, "<time> UTC: [Canister <id>] <text>"), and script errors
 * to stderr as drun prints them ("Error: \"Line N: ...\"").  Unlike drun,
 * a malformed line does not end the run: the next line runs.
 *
 * Exit status: 0 when every line was well-formed, 1 if a script line had an
 * error (or the engine failed), 2 on a usage error or an unreadable script. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <icexec.h>

/* ---- determinism: fixed time and random tape ------------------------------
 * Round r (1, 2, ...) runs at DRUN_TIME0 + r * DRUN_TIME_STEP nanoseconds;
 * its random-tape signature is "icexec-drun" followed by r (8 bytes,
 * big-endian).  drun itself uses wall-clock time and fresh randomness. */
#define DRUN_TIME0 1620328630000000000ull /* 2021-05-06 19:17:10 UTC (as PocketIC) */
#define DRUN_TIME_STEP 1000000ull         /* 1 ms per round */
#define DRUN_MAX_ROUNDS 10000u            /* rounds an ingress may take */
/* Instruction limits of a system subnet as drun configures it: DTS off (a
 * slice is a whole message, an install slice a whole install). */
#define SYS_MSG_LIMIT 50000000000ull
#define SYS_INSTALL_LIMIT 1000000000000ull
#define APP_SLICE_LIMIT 2000000000ull
#define APP_ROUND_LIMIT 4000000000ull

typedef struct Drun {
  icx_engine *engine;
  icx_state *state;
  icx_principal anon;
  uint64_t round;        /* last round executed */
  uint64_t time_ns;      /* time of the last round (debug-print stamps) */
  uint64_t extra_batches;
  int errors;            /* script lines with an error */
} Drun;

/* A growable byte buffer. */
typedef struct Buf {
  uint8_t *p;
  size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t more) {
  if (b->len + more <= b->cap) return 0;
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < b->len + more) ncap *= 2;
  uint8_t *np = realloc(b->p, ncap);
  if (!np) return -1;
  b->p = np;
  b->cap = ncap;
  return 0;
}

static int buf_put(Buf *b, const void *p, size_t n) {
  if (buf_reserve(b, n)) return -1;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

static int buf_byte(Buf *b, uint8_t x) { return buf_put(b, &x, 1); }

/* Read a whole file; NULL on error (errno set). */
static uint8_t *read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  Buf b = {0};
  for (;;) {
    if (buf_reserve(&b, 1 << 16)) {
      free(b.p);
      fclose(f);
      errno = ENOMEM;
      return NULL;
    }
    size_t got = fread(b.p + b.len, 1, b.cap - b.len, f);
    b.len += got;
    if (got == 0) break;
  }
  int bad = ferror(f);
  int saved = errno;
  fclose(f);
  if (bad) {
    free(b.p);
    errno = saved ? saved : EIO;
    return NULL;
  }
  if (!b.p) b.p = malloc(1); /* an empty file is not an error */
  *out_len = b.len;
  return b.p;
}

/* ---- output helpers -------------------------------------------------------- */

static void print_hex(FILE *f, const uint8_t *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    fputc(digits[p[i] >> 4], f);
    fputc(digits[p[i] & 15], f);
  }
}

/* Write p[0..n) as UTF-8, each maximal invalid subsequence replaced by
 * U+FFFD (what Rust's String::from_utf8_lossy does). */
static void print_utf8_lossy(FILE *f, const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      fputc(c, f);
      i++;
      continue;
    }
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c == 0xe0) need = 2, lo = 0xa0;
    else if (c == 0xed) need = 2, hi = 0x9f;
    else if (c >= 0xe1 && c <= 0xef) need = 2;
    else if (c == 0xf0) need = 3, lo = 0x90;
    else if (c == 0xf4) need = 3, hi = 0x8f;
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    size_t j = i + 1, k = 0;
    while (k < need && j < n && p[j] >= (k == 0 ? lo : 0x80) && p[j] <= (k == 0 ? hi : 0xbf))
      j++, k++;
    if (need && k == need) fwrite(p + i, 1, j - i, f);
    else fputs("\xef\xbf\xbd", f);
    i = j;
  }
}

/* "YYYY-MM-DD HH:MM:SS.nnnnnnnnn" of t nanoseconds after the Unix epoch. */
static void format_time(uint64_t t, char *buf, size_t cap) {
  uint64_t secs = t / 1000000000u, nanos = t % 1000000000u;
  int64_t days = (int64_t)(secs / 86400u);
  unsigned sod = (unsigned)(secs % 86400u);
  /* days to civil date (Howard Hinnant's algorithm) */
  int64_t z = days + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) y++;
  snprintf(buf, cap, "%04" PRId64 "-%02" PRId64 "-%02" PRId64 " %02u:%02u:%02u.%09" PRIu64, y, m,
           d, sod / 3600, sod / 60 % 60, sod % 60, nanos);
}

/* The engine's debug_print sink: drun's line on stderr. */
static void on_debug_print(void *ud, const icx_principal *canister, const uint8_t *msg,
                           size_t len) {
  const Drun *d = ud;
  char when[48], id[ICX_PRINCIPAL_TEXT_MAX + 1];
  format_time(d->time_ns, when, sizeof when);
  icx_principal_to_text(canister, id, sizeof id);
  fflush(stdout);
  fprintf(stderr, "%s UTC: [Canister %s] ", when, id);
  print_utf8_lossy(stderr, msg, len);
  fputc('\n', stderr);
  fflush(stderr);
}

/* A script error: drun's top-level error print, Rust's Debug form of the
 * message ("Error: \"Line N: ...\""), on stderr. */
static void line_error(Drun *d, size_t line, const char *msg) {
  fflush(stdout);
  fprintf(stderr, "Error: \"Line %zu: ", line);
  for (const char *s = msg; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(stderr, "\\%c", c);
    else if (c == '\n') fputs("\\n", stderr);
    else if (c == '\t') fputs("\\t", stderr);
    else if (c == '\r') fputs("\\r", stderr);
    else if (c < 0x20 || c == 0x7f) fprintf(stderr, "\\u{%x}", c);
    else fputc(c, stderr);
  }
  fputs("\"\n", stderr);
  fflush(stderr);
  d->errors++;
}

/* ---- parsing (drun's rs/drun/src/message.rs) -------------------------------
 * Each parser returns 0, or -1 with a message in err[0..ERR_CAP). */
#define ERR_CAP 512

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* A character as Rust's Debug prints it: 'x', or '\u{..}'. */
static void rust_char(char c, char *buf, size_t cap) {
  unsigned char u = (unsigned char)c;
  if (c == '\'' || c == '\\') snprintf(buf, cap, "'\\%c'", c);
  else if (u >= 0x20 && u < 0x7f) snprintf(buf, cap, "'%c'", c);
  else snprintf(buf, cap, "'\\u{%x}'", u);
}

static int parse_hex(const char *s, Buf *out, char *err) {
  if (strncmp(s, "0x", 2) != 0) {
    snprintf(err, ERR_CAP, "Illegal hex character sequence %s.", s);
    return -1;
  }
  s += 2;
  size_t n = strlen(s);
  if (n % 2) {
    snprintf(err, ERR_CAP, "Odd number of digits");
    return -1;
  }
  for (size_t i = 0; i < n; i += 2) {
    int h = hex_val(s[i]), l = hex_val(s[i + 1]);
    if (h < 0 || l < 0) {
      char c[16];
      rust_char(h < 0 ? s[i] : s[i + 1], c, sizeof c);
      snprintf(err, ERR_CAP, "Invalid character %s at position %zu", c, h < 0 ? i : i + 1);
      return -1;
    }
    if (buf_byte(out, (uint8_t)(h << 4 | l))) goto oom;
  }
  return 0;
oom:
  snprintf(err, ERR_CAP, "out of memory");
  return -1;
}

/* \xHH (radix 16, 2 digits) or \bBBBBBBBB (radix 2, 8 digits); Rust's
 * u8::from_str_radix, which also takes a leading '+'. */
static int parse_escape(const char **ps, int radix, uint8_t *out, char *err) {
  size_t len = radix == 16 ? 2 : 8, n = 0;
  char s[9];
  while (n < len && (*ps)[n]) s[n] = (*ps)[n], n++;
  s[n] = 0;
  *ps += n;
  if (n < len) {
    snprintf(err, ERR_CAP, "Escape sequence for radix %s too short: %s",
             radix == 16 ? "Hex" : "Bin", s);
    return -1;
  }
  size_t i = s[0] == '+' ? 1 : 0;
  unsigned v = 0;
  for (; i < n; i++) {
    int x = hex_val(s[i]);
    if (x < 0 || x >= radix) {
      snprintf(err, ERR_CAP, "invalid digit found in string");
      return -1;
    }
    v = v * (unsigned)radix + (unsigned)x;
  }
  if (v > 255) {
    snprintf(err, ERR_CAP, "number too large to fit in target type");
    return -1;
  }
  *out = (uint8_t)v;
  return 0;
}

/* "..." with drun's escapes and its quirks: a missing closing quote is
 * accepted, and one character after the closing quote is skipped. */
static int parse_quoted(const char *s, Buf *out, char *err) {
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p >= 0x80) {
      snprintf(err, ERR_CAP, "Only ASCII strings are allowed.");
      return -1;
    }
  const char *p = s + 1; /* the caller saw the opening quote */
  int escaped = 0;
  while (*p) {
    char c = *p++;
    uint8_t b = (uint8_t)c;
    if (escaped) {
      if (c == 'x' || c == 'b') {
        if (parse_escape(&p, c == 'x' ? 16 : 2, &b, err)) return -1;
      } else if (c != '"' && c != '\\') {
        snprintf(err, ERR_CAP, "Illegal escape sequence %c", c);
        return -1;
      }
      if (buf_byte(out, b)) goto oom;
      escaped = 0;
    } else if (c == '\\') {
      escaped = 1;
    } else if (c == '"') {
      if (*p) p++; /* drun consumes one more character here */
      if (*p) {
        snprintf(err, ERR_CAP, "Trailing characters after string terminator.");
        return -1;
      }
      return 0;
    } else if (buf_byte(out, b)) {
      goto oom;
    }
  }
  return 0;
oom:
  snprintf(err, ERR_CAP, "out of memory");
  return -1;
}

static int parse_payload(const char *s, Buf *out, char *err) {
  return s[0] == '"' ? parse_quoted(s, out, err) : parse_hex(s, out, err);
}

static int parse_method(const char *s, char *err) {
  int ok = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_';
  for (const char *p = s + 1; ok && *p; p++)
    ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
         *p == '_';
  if (!ok) snprintf(err, ERR_CAP, "Illegal method name: %s.", s);
  return ok ? 0 : -1;
}

/* A textual principal, as drun's PrincipalId::from_str (ic_base_types)
 * reads it: lower-cased, everything but ASCII letters and digits dropped,
 * base32-decoded, then the input must equal the canonical text exactly. */
static int parse_principal(const char *s, icx_principal *out, char *err) {
  uint8_t bytes[64];
  size_t nbytes = 0;
  uint32_t acc = 0;
  int bits = 0;
  const char *why = NULL;
  char canon[ICX_PRINCIPAL_TEXT_MAX + 1];
  for (const char *p = s; *p && !why; p++) {
    char c = *p;
    int v;
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c >= 'a' && c <= 'z') v = c - 'a';
    else if (c >= '2' && c <= '7') v = c - '2' + 26;
    else if (c == '0' || c == '1' || c == '8' || c == '9')
      why = "cannot decode principal textual representation as base32";
    else continue; /* not alphanumeric: dropped */
    if (why) break;
    acc = (acc << 5) | (uint32_t)v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      if (nbytes < sizeof bytes) bytes[nbytes] = (uint8_t)(acc >> bits);
      nbytes++;
    }
  }
  if (!why && nbytes < 4) why = "principal textual representation is too short";
  if (!why && nbytes - 4 > ICX_PRINCIPAL_MAX_BYTES)
    why = "principal textual representation is too long";
  if (!why && icx_principal_from_bytes(bytes + 4, nbytes - 4, out) != ICX_OK)
    why = "principal textual representation is too long";
  if (why) {
    snprintf(err, ERR_CAP, "Failed to convert %s to principal id with %s", s, why);
    return -1;
  }
  icx_principal_to_text(out, canon, sizeof canon);
  if (strcmp(s, canon) != 0) {
    snprintf(err, ERR_CAP,
             "Failed to convert %s to principal id with principal textual not in normal form, "
             "expected %s",
             s, canon);
    return -1;
  }
  return 0;
}

/* Does the (raw, not gzipped) module have a custom section named `name`? */
static int wasm_has_custom_section(const uint8_t *w, size_t n, const char *name) {
  size_t pos = 8, nlen = strlen(name);
  if (n < 8 || memcmp(w, "\0asm", 4) != 0) return 0;
  while (pos < n) {
    uint8_t id = w[pos++];
    uint64_t size = 0;
    int shift = 0;
    for (;;) {
      if (pos >= n || shift > 35) return 0;
      uint8_t x = w[pos++];
      size |= (uint64_t)(x & 0x7f) << shift;
      shift += 7;
      if (!(x & 0x80)) break;
    }
    if (size > n - pos) return 0;
    if (id == 0) {
      size_t p = pos, end = pos + (size_t)size;
      uint64_t len = 0;
      shift = 0;
      for (;;) {
        if (p >= end || shift > 35) break;
        uint8_t x = w[p++];
        len |= (uint64_t)(x & 0x7f) << shift;
        shift += 7;
        if (!(x & 0x80)) {
          if (len == nlen && len <= end - p && memcmp(w + p, name, nlen) == 0) return 1;
          break;
        }
      }
    }
    pos += (size_t)size;
  }
  return 0;
}

/* ---- executing ------------------------------------------------------------ */

static int new_batch(Drun *d, icx_batch **out) {
  uint64_t r = d->round + 1;
  uint8_t sig[19] = "icexec-drun";
  for (int i = 0; i < 8; i++) sig[11 + i] = (uint8_t)(r >> (56 - 8 * i));
  icx_status rc = icx_batch_new(d->engine, r, DRUN_TIME0 + r * DRUN_TIME_STEP, sig, sizeof sig, out);
  if (rc != ICX_OK) {
    fprintf(stderr, "icexec-drun: icx_batch_new: %s: %s\n", icx_strerror(rc),
            icx_errmsg(d->engine));
    return -1;
  }
  return 0;
}

/* Execute batch (NULL: an empty one) as the next round.  On failure the
 * state has diverged: the caller stops. */
static int run_round(Drun *d, icx_batch *batch, icx_round_output **out) {
  icx_batch *own = NULL;
  if (!batch) {
    if (new_batch(d, &own)) return -1;
    batch = own;
  }
  d->round++;
  d->time_ns = DRUN_TIME0 + d->round * DRUN_TIME_STEP;
  icx_round_output *o = NULL;
  icx_status rc = icx_execute_round(d->engine, d->state, batch, &o);
  icx_batch_free(own);
  if (rc != ICX_OK) {
    fprintf(stderr, "icexec-drun: round %" PRIu64 " failed: %s: %s\n", d->round, icx_strerror(rc),
            icx_errmsg(d->engine));
    return -1;
  }
  if (out) *out = o;
  else icx_round_output_free(o);
  return 0;
}

static void print_rejected(FILE *f, uint32_t error_code, const uint8_t *msg, size_t len) {
  fprintf(f, "Err: IC%04u: ", (unsigned)error_code);
  fwrite(msg, 1, len, f);
  fputc('\n', f);
}

/* Run the batch holding message *id, then empty rounds until its result is
 * known (at most DRUN_MAX_ROUNDS), then --extra-batches more; print the
 * result line.  Returns -1 if the engine failed. */
static int deliver(Drun *d, size_t line, icx_batch *batch, const icx_message_id *id) {
  int done = 0, rc = 0;
  Buf saved = {0};
  icx_ingress_result res;
  memset(&res, 0, sizeof res);
  for (uint32_t n = 0; n < DRUN_MAX_ROUNDS && !done; n++) {
    icx_round_output *o = NULL;
    if (run_round(d, n == 0 ? batch : NULL, &o)) return -1;
    memset(&res, 0, sizeof res);
    res.struct_size = sizeof res;
    if (icx_round_output_find_ingress(o, id, &res) == ICX_OK) {
      done = 1;
      if (buf_put(&saved, res.data, res.len)) rc = -1;
    }
    icx_round_output_free(o);
  }
  if (!done) {
    char msg[128];
    snprintf(msg, sizeof msg, "the message has no result after %u rounds", DRUN_MAX_ROUNDS);
    line_error(d, line, msg);
    return 0;
  }
  for (uint64_t i = 0; i < d->extra_batches && rc == 0; i++) rc = run_round(d, NULL, NULL);
  if (rc == 0) {
    fputs("ingress ", stdout);
    if (res.status == ICX_INGRESS_REPLIED) {
      fputs("Completed: Reply: 0x", stdout);
      print_hex(stdout, saved.p, saved.len);
      fputc('\n', stdout);
    } else if (res.reject_code == ICX_REJECT_CODE_CANISTER_REJECT && res.error_code == 406) {
      fputs("Completed: Reject: ", stdout);
      fwrite(saved.p, 1, saved.len, stdout);
      fputc('\n', stdout);
    } else {
      print_rejected(stdout, res.error_code, saved.p, saved.len);
    }
    fflush(stdout);
  }
  free(saved.p);
  return rc;
}

/* Report a failed icx_batch_add_*: the script line could not be sent. */
static void add_failed(Drun *d, size_t line, icx_status rc) {
  char msg[ERR_CAP];
  snprintf(msg, sizeof msg, "cannot submit the message: %s: %s", icx_strerror(rc),
           icx_errmsg(d->engine));
  line_error(d, line, msg);
}

static int do_create(Drun *d, size_t line) {
  /* drun's argument: provisional_create_canister_with_cycles with every
   * field null (amount, settings, specified_id, sender_canister_version);
   * sent as the empty record, which Candid reads as exactly that. */
  static const uint8_t arg[] = {'D', 'I', 'D', 'L', 1, 0x6c, 0, 1, 0};
  icx_batch *b = NULL;
  icx_message_id id;
  if (new_batch(d, &b)) return -1;
  icx_status rc = icx_batch_add_management(b, &d->anon, "provisional_create_canister_with_cycles",
                                           arg, sizeof arg, &id);
  int r = 0;
  if (rc != ICX_OK) add_failed(d, line, rc);
  else r = deliver(d, line, b, &id);
  icx_batch_free(b);
  return r;
}

static int do_install(Drun *d, size_t line, int32_t mode, const char *cid, const char *file,
                      const char *payload) {
  char err[ERR_CAP];
  size_t wasm_len = 0;
  Buf arg = {0};
  icx_principal canister;
  icx_batch *b = NULL;
  icx_message_id id;
  int r = 0;
  uint8_t *wasm = read_file(file, &wasm_len);
  if (!wasm) {
    int e = errno;
    snprintf(err, sizeof err, "Could not open wasm file: %s - Error: %s (os error %d)", file,
             strerror(e), e);
    line_error(d, line, err);
    return 0;
  }
  if (parse_principal(cid, &canister, err) || parse_payload(payload, &arg, err)) {
    line_error(d, line, err);
    goto out;
  }
  if (new_batch(d, &b)) {
    r = -1;
    goto out;
  }
  /* drun sends wasm_memory_persistence = opt keep exactly when the new
   * module declares enhanced orthogonal persistence */
  icx_install_options opts;
  memset(&opts, 0, sizeof opts);
  opts.struct_size = sizeof opts;
  if (wasm_has_custom_section(wasm, wasm_len, "icp:private enhanced-orthogonal-persistence"))
    opts.wasm_memory_persistence = ICX_MEMORY_PERSISTENCE_KEEP;
  icx_status rc = icx_batch_add_install_code_opts(b, &d->anon, &canister, mode, wasm, wasm_len,
                                                  arg.p, arg.len, &opts, &id);
  if (rc != ICX_OK) add_failed(d, line, rc);
  else r = deliver(d, line, b, &id);
out:
  icx_batch_free(b);
  free(wasm);
  free(arg.p);
  return r;
}

static int do_ingress(Drun *d, size_t line, const char *cid, const char *method,
                      const char *payload) {
  char err[ERR_CAP];
  Buf arg = {0};
  icx_principal canister;
  icx_batch *b = NULL;
  icx_message_id id;
  int r = 0;
  if (parse_principal(cid, &canister, err) || parse_method(method, err) ||
      parse_payload(payload, &arg, err)) {
    line_error(d, line, err);
    goto out;
  }
  if (new_batch(d, &b)) {
    r = -1;
    goto out;
  }
  icx_status rc = icx_batch_add_ingress(b, &d->anon, &canister, method, arg.p, arg.len, &id);
  if (rc != ICX_OK) add_failed(d, line, rc);
  else r = deliver(d, line, b, &id);
out:
  icx_batch_free(b);
  free(arg.p);
  return r;
}

static int do_query(Drun *d, size_t line, const char *cid, const char *method,
                    const char *payload) {
  char err[ERR_CAP];
  Buf arg = {0};
  icx_principal canister;
  icx_snapshot *snap = NULL;
  icx_query_result res;
  memset(&res, 0, sizeof res);
  res.struct_size = sizeof res;
  if (parse_principal(cid, &canister, err) || parse_method(method, err) ||
      parse_payload(payload, &arg, err)) {
    line_error(d, line, err);
    goto out;
  }
  icx_status rc = icx_state_snapshot(d->state, &snap);
  if (rc == ICX_OK) rc = icx_query(snap, &d->anon, &canister, method, arg.p, arg.len, &res);
  if (rc != ICX_OK) { /* nothing changed: report it and go on */
    char msg[ERR_CAP];
    snprintf(msg, sizeof msg, "cannot run the query: %s", icx_strerror(rc));
    line_error(d, line, msg);
    goto out;
  }
  if (res.status == ICX_INGRESS_REPLIED) {
    fputs("Ok: Reply: 0x", stdout);
    print_hex(stdout, res.data, res.len);
    fputc('\n', stdout);
  } else if (res.reject_code == ICX_REJECT_CODE_CANISTER_REJECT && res.error_code == 406) {
    fputs("Ok: Reject: ", stdout);
    fwrite(res.data, 1, res.len, stdout);
    fputc('\n', stdout);
  } else {
    print_rejected(stdout, res.error_code, res.data, res.len);
  }
  fflush(stdout);
out:
  icx_query_result_clear(&res);
  icx_snapshot_free(snap);
  free(arg.p);
  return 0;
}

/* One script line (already known not to be empty or a comment): split on
 * single whitespace characters into at most four fields, then dispatch. */
static int run_line(Drun *d, size_t line, char *s) {
  size_t n = strlen(s);
  while (n > 0 && is_ws(s[n - 1])) s[--n] = 0; /* trim_end */
  char *f[4];
  size_t nf = 0;
  char *p = s;
  f[nf++] = p;
  while (nf < 4) {
    while (*p && !is_ws(*p)) p++;
    if (!*p) break;
    *p++ = 0;
    f[nf++] = p;
  }
  if (nf == 1 && !strcmp(f[0], "create")) return do_create(d, line);
  if (nf == 4) {
    if (!strcmp(f[0], "install")) return do_install(d, line, ICX_MODE_INSTALL, f[1], f[2], f[3]);
    if (!strcmp(f[0], "reinstall"))
      return do_install(d, line, ICX_MODE_REINSTALL, f[1], f[2], f[3]);
    if (!strcmp(f[0], "upgrade")) return do_install(d, line, ICX_MODE_UPGRADE, f[1], f[2], f[3]);
    if (!strcmp(f[0], "ingress")) return do_ingress(d, line, f[1], f[2], f[3]);
    if (!strcmp(f[0], "query")) return do_query(d, line, f[1], f[2], f[3]);
  }
  /* drun prints the trimmed line; restore the separators for that */
  for (size_t i = 1; i < nf; i++) f[i][-1] = ' ';
  char msg[ERR_CAP];
  snprintf(msg, sizeof msg, "Failed to parse line %.*s, don't have a pattern to match this with",
           (int)(ERR_CAP - 80), s);
  line_error(d, line, msg);
  return 0;
}

/* Is p[0..n) valid UTF-8?  (drun rejects a line that is not.) */
static int utf8_valid(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n;) {
    uint8_t c = p[i];
    size_t need = 0;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c == 0xe0) need = 2, lo = 0xa0;
    else if (c == 0xed) need = 2, hi = 0x9f;
    else if (c >= 0xe1 && c <= 0xef) need = 2;
    else if (c == 0xf0) need = 3, lo = 0x90;
    else if (c == 0xf4) need = 3, hi = 0x8f;
    else if (c >= 0xf1 && c <= 0xf3) need = 3;
    else return 0;
    for (size_t k = 1; k <= need; k++) {
      if (i + k >= n) return 0;
      uint8_t x = p[i + k];
      if (x < (k == 1 ? lo : 0x80) || x > (k == 1 ? hi : 0xbf)) return 0;
    }
    i += need + 1;
  }
  return 1;
}

static int run_script(Drun *d, uint8_t *text, size_t len) {
  size_t line = 0, pos = 0;
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '\n') end++;
    line++;
    char *s = (char *)text + pos;
    size_t n = end - pos;
    int last = end >= len;
    text[end < len ? end : len] = 0; /* the buffer has one spare byte */
    pos = end + 1;
    if (n == 0 || s[0] == '#') continue;
    if (memchr(s, 0, n) || !utf8_valid((const uint8_t *)s, n)) {
      line_error(d, line, "UTF-8 conversion error: the line is not valid UTF-8");
      continue;
    }
    if (run_line(d, line, s)) return -1;
    if (last) break;
  }
  return 0;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f) {
  fputs("usage: icexec-drun [-c FILE] [--extra-batches N] [--log-file FILE]\n"
        "                   [--instruction-limit N] [--subnet-type system|application]\n"
        "                   MESSAGES_FILE\n"
        "Runs a drun script (create, install, reinstall, upgrade, ingress, query) on\n"
        "libicexec: results on stdout, canister debug output on stderr.\n",
        f);
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end = NULL;
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

typedef struct Args {
  const char *script;
  uint64_t extra_batches, instruction_limit;
  uint32_t subnet_type;
} Args;

/* Parse the command line into *a.  Returns -1 to go on, else the status
 * to exit with. */
static int parse_args(int argc, char **argv, Args *out) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = NULL;
    size_t alen = strlen(a);
    const char *eq = strchr(a, '=');
    if (a[0] == '-' && a[1] == '-' && eq) { /* --opt=value */
      v = eq + 1;
      alen = (size_t)(eq - a);
    }
#define OPT(name) (alen == strlen(name) && !strncmp(a, name, alen))
#define VALUE()                                                             \
  do {                                                                      \
    if (!v) {                                                               \
      if (i + 1 >= argc) {                                                  \
        fprintf(stderr, "icexec-drun: %s needs a value\n", a);              \
        return 2;                                                           \
      }                                                                     \
      v = argv[++i];                                                        \
    }                                                                       \
  } while (0)
    if (OPT("-h") || OPT("--help")) {
      usage(stdout);
      return 0;
    } else if (OPT("-V") || OPT("--version")) {
      printf("icexec-drun (libicexec %s)\n", icx_version_string());
      return 0;
    } else if (OPT("-c") || OPT("--config") || OPT("--log-file")) {
      VALUE(); /* accepted for drun compatibility; nothing to configure */
    } else if (OPT("--extra-batches") || OPT("--instruction-limit")) {
      const char *name = a;
      VALUE();
      uint64_t x;
      if (parse_u64(v, &x) || (OPT("--instruction-limit") && x == 0)) {
        fprintf(stderr, "icexec-drun: %.*s: not a valid number: %s\n", (int)alen, name, v);
        return 2;
      }
      if (OPT("--extra-batches")) out->extra_batches = x;
      else out->instruction_limit = x;
    } else if (OPT("--subnet-type")) {
      VALUE();
      if (!strcmp(v, "system")) out->subnet_type = ICX_SUBNET_TYPE_SYSTEM;
      else if (!strcmp(v, "application")) out->subnet_type = ICX_SUBNET_TYPE_APPLICATION;
      else if (!strcmp(v, "verified_application"))
        out->subnet_type = ICX_SUBNET_TYPE_VERIFIED_APPLICATION;
      else {
        fprintf(stderr, "icexec-drun: unknown subnet type '%s' (system, application, "
                        "verified_application)\n", v);
        return 2;
      }
    } else if (a[0] == '-' && a[1] != 0) {
      fprintf(stderr, "icexec-drun: unknown option %s\n", a);
      usage(stderr);
      return 2;
    } else if (out->script) {
      fprintf(stderr, "icexec-drun: more than one messages file (%s, %s)\n", out->script, a);
      return 2;
    } else {
      out->script = a;
    }
#undef OPT
#undef VALUE
  }
  if (!out->script) {
    usage(stderr);
    return 2;
  }
  return -1;
}

/* Instruction limits: drun's on a system subnet (no DTS), the library's
 * defaults on the others; --instruction-limit as drun applies it. */
static void set_limits(icx_engine_opts *o, const Args *a) {
  uint64_t il = a->instruction_limit;
  if (a->subnet_type == ICX_SUBNET_TYPE_SYSTEM) {
    o->max_instructions_message = il ? il : SYS_MSG_LIMIT;
    o->max_instructions_slice = o->max_instructions_message;
    o->max_instructions_install = SYS_INSTALL_LIMIT;
    o->max_instructions_install_slice = SYS_INSTALL_LIMIT;
    o->max_instructions_round = SYS_INSTALL_LIMIT > o->max_instructions_message
                                    ? SYS_INSTALL_LIMIT
                                    : o->max_instructions_message;
  } else if (il) {
    o->max_instructions_message = il;
    o->max_instructions_slice = il < APP_SLICE_LIMIT ? il : APP_SLICE_LIMIT;
    o->max_instructions_round = il > APP_ROUND_LIMIT ? il : APP_ROUND_LIMIT;
  }
  if (il) o->max_instructions_query = il;
}

int main(int argc, char **argv) {
  Args args = {NULL, 0, 0, ICX_SUBNET_TYPE_SYSTEM};
  int st = parse_args(argc, argv, &args);
  if (st >= 0) return st;

  size_t len = 0;
  uint8_t *text = read_file(args.script, &len);
  uint8_t *t2 = text ? realloc(text, len + 1) : NULL; /* room for a NUL */
  if (!t2) {
    fprintf(stderr, "icexec-drun: cannot read %s: %s\n", args.script, strerror(errno));
    free(text);
    return 2;
  }
  text = t2;
  text[len] = 0;

  Drun d;
  memset(&d, 0, sizeof d);
  d.extra_batches = args.extra_batches;
  d.time_ns = DRUN_TIME0;
  if (icx_principal_anonymous(&d.anon) != ICX_OK) return 2;

  icx_engine_opts o;
  icx_engine_opts_init(&o);
  o.subnet_type = args.subnet_type;
  o.debug_print = on_debug_print;
  o.debug_print_ud = &d;
  set_limits(&o, &args);

  int status = 0;
  icx_status rc = icx_engine_new(&o, &d.engine);
  if (rc == ICX_OK) rc = icx_state_new(d.engine, &d.state);
  if (rc != ICX_OK) {
    fprintf(stderr, "icexec-drun: cannot set up the engine: %s: %s\n", icx_strerror(rc),
            icx_errmsg(d.engine));
    status = 1;
  } else if (run_script(&d, text, len) || d.errors) {
    status = 1;
  }
  fflush(stdout);
  icx_state_free(d.state);
  icx_engine_free(d.engine);
  free(text);
  return status;
}
