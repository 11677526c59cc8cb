/* helpers.c -- see helpers.h. */
#include "helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

uint8_t *icxt_read_file(const char *path, size_t *len) {
  FILE *fp = fopen(path, "rb");
  if (!fp) fail_msg("cannot open %s", path);
  fseek(fp, 0, SEEK_END);
  long n = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  if (n < 0) fail_msg("cannot size %s", path);
  uint8_t *p = malloc((size_t)n + 1);
  if (!p) fail_msg("out of memory reading %s", path);
  if (fread(p, 1, (size_t)n, fp) != (size_t)n) fail_msg("cannot read %s", path);
  fclose(fp);
  *len = (size_t)n;
  return p;
}

int icxt_has_text(const uint8_t *data, size_t len, const char *needle) {
  size_t n = strlen(needle);
  for (size_t i = 0; n <= len && i <= len - n; i++)
    if (memcmp(data + i, needle, n) == 0) return 1;
  return 0;
}
