/* demo.c -- load a .wasm file, call one export, print the result and the
 * number of instructions it took.  Uses only the public header.
 *
 *   demo [--limit N] FILE.wasm EXPORT [ARG...]
 *
 * The module must have no imports.  Each ARG is parsed by the type of the
 * matching parameter (i32/i64: decimal or 0x hex; f32/f64: decimal).  The
 * module is compiled with ICX_MODULE_METER; --limit sets the instruction
 * limit of the call.  Prints, for example:
 *
 *   fib.wasm run(25) = 75025  instructions: 1234567
 *
 * Exit status: 0 if the call returned, 1 if it trapped or failed, 2 on a
 * usage error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <icexec.h>

#define MAX_VALUES 16

/* Read a whole file; NULL on error (errno set). */
static uint8_t *read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  if (!f) return NULL;
  for (;;) {
    if (len == cap) {
      size_t ncap = cap ? cap * 2 : 1 << 16;
      uint8_t *nb = realloc(buf, ncap);
      if (!nb) break;
      buf = nb;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) break;
      fclose(f);
      *out_len = len;
      return buf;
    }
  }
  free(buf);
  fclose(f);
  return NULL;
}

/* Parse text as a value of type ty; 0 on success. */
static int parse_value(const char *text, uint32_t ty, icx_value *v) {
  char *end = NULL;
  v->type = ty;
  v->reserved = 0;
  errno = 0;
  if (ty == ICX_TYPE_I32 || ty == ICX_TYPE_I64) {
    long long x = strtoll(text, &end, 0);
    if (ty == ICX_TYPE_I32 && (x < INT32_MIN || x > (long long)UINT32_MAX)) return -1;
    v->bits = (uint64_t)x;
  } else if (ty == ICX_TYPE_F32) {
    float f = strtof(text, &end);
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    v->bits = b;
  } else if (ty == ICX_TYPE_F64) {
    double d = strtod(text, &end);
    memcpy(&v->bits, &d, sizeof d);
  } else {
    return -1;
  }
  return (errno != 0 || end == text || *end != 0) ? -1 : 0;
}

/* Print a value as the Wasm type it has. */
static void print_value(const icx_value *v) {
  switch (v->type) {
  case ICX_TYPE_I32: printf("%" PRId32, (int32_t)(uint32_t)v->bits); break;
  case ICX_TYPE_I64: printf("%" PRId64, (int64_t)v->bits); break;
  case ICX_TYPE_F32: {
    uint32_t b = (uint32_t)v->bits;
    float f;
    memcpy(&f, &b, sizeof f);
    printf("%.9g", (double)f);
    break;
  }
  case ICX_TYPE_F64: {
    double d;
    memcpy(&d, &v->bits, sizeof d);
    printf("%.17g", d);
    break;
  }
  default: printf("ref:%" PRIu64, v->bits); break;
  }
}

static int usage(void) {
  fprintf(stderr, "usage: demo [--limit N] FILE.wasm EXPORT [ARG...]\n");
  return 2;
}

int main(int argc, char **argv) {
  uint64_t limit = 0;
  int ai = 1;
  if (ai + 1 < argc && strcmp(argv[ai], "--limit") == 0) {
    limit = strtoull(argv[ai + 1], NULL, 0);
    ai += 2;
  }
  if (argc - ai < 2) return usage();
  const char *path = argv[ai], *name = argv[ai + 1];
  int nargs_given = argc - ai - 2;
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;

  size_t len = 0;
  uint8_t *wasm = read_file(path, &len);
  if (!wasm) {
    fprintf(stderr, "demo: cannot read %s: %s\n", path, strerror(errno));
    return 1;
  }

  int status = 1;
  icx_engine *engine = NULL;
  icx_module *module = NULL;
  icx_instance *instance = NULL;
  uint32_t types[2 * MAX_VALUES], np = 0, nr = 0;
  icx_value args[MAX_VALUES], results[MAX_VALUES];
  icx_call_result out = ICX_CALL_RESULT_INIT;
  icx_status rc = icx_engine_new(NULL, &engine);
  if (rc != ICX_OK) {
    fprintf(stderr, "demo: engine: %s\n", icx_strerror(rc));
    free(wasm);
    return 1;
  }
  rc = icx_module_new(engine, wasm, len, ICX_MODULE_METER, &module);
  free(wasm); /* the module keeps its own copy */
  if (rc != ICX_OK) goto error;
  rc = icx_module_export_type(module, name, types, 2 * MAX_VALUES, &np, &nr);
  if (rc != ICX_OK) goto error;
  if (np > MAX_VALUES || nr > MAX_VALUES) {
    fprintf(stderr, "demo: %s has too many parameters or results\n", name);
    goto done;
  }
  if ((uint32_t)nargs_given != np) {
    fprintf(stderr, "demo: %s takes %u arguments, %d given\n", name, (unsigned)np, nargs_given);
    status = 2;
    goto done;
  }
  for (uint32_t i = 0; i < np; i++) {
    if (parse_value(argv[ai + 2 + i], types[i], &args[i]) != 0) {
      fprintf(stderr, "demo: argument %u: cannot parse \"%s\" for its type\n", (unsigned)i,
              argv[ai + 2 + i]);
      status = 2;
      goto done;
    }
  }
  rc = icx_instance_new(engine, module, &instance);
  if (rc != ICX_OK) goto error;
  if (limit > 0 && (rc = icx_instance_set_instruction_limit(instance, limit)) != ICX_OK) goto error;
  rc = icx_instance_call(instance, name, args, np, results, nr, &out);
  if (rc != ICX_OK) goto error;

  printf("%s %s(", base, name);
  for (uint32_t i = 0; i < np; i++) printf(i ? ", %s" : "%s", argv[ai + 2 + i]);
  printf(")");
  if (out.trapped) {
    printf(" trapped: %s", out.trap_message);
  } else {
    printf(" =");
    for (uint32_t i = 0; i < nr; i++) {
      printf(" ");
      print_value(&results[i]);
    }
    status = 0;
  }
  printf("  instructions: %" PRIu64 "\n", out.instructions);
  goto done;

error:
  fprintf(stderr, "demo: %s: %s\n", icx_strerror(rc), icx_errmsg(engine));
done:
  icx_instance_free(instance);
  icx_module_free(module);
  icx_engine_free(engine);
  return status;
}
