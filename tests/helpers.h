/* helpers.h -- small helpers shared by the test programs (tests/helpers.c,
 * linked into every unit_* and api_* program).  Public header and libc
 * only, so the api_* tests stay public-API tests. */
#ifndef ICX_TESTS_HELPERS_H
#define ICX_TESTS_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* The whole file (malloc'd, one spare byte), its size in *len; a failed
 * cmocka test if it cannot be read. */
uint8_t *icxt_read_file(const char *path, size_t *len);

/* 1 if needle occurs in data[0..len) (which need not be NUL-terminated). */
int icxt_has_text(const uint8_t *data, size_t len, const char *needle);

#endif
