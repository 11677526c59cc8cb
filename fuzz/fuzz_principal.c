/* fuzz_principal.c -- arbitrary bytes as principal text and as principal
 * bytes.
 *
 * Checks: from_text accepts only what to_text prints (a parsed text prints
 * back to exactly the input); bytes of length <= 29 print and parse back to
 * the same bytes; rejected input has a message and leaves the empty
 * principal; CRC-32 agrees with zlib; SHA-224 is deterministic and the
 * self-authenticating principal ends in 0x02; the public API agrees with
 * the internal functions. */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_util.h"
#include "principal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  icx_principal p, q;
  icxErr err;
  memset(&err, 0, sizeof err);
  char text[ICX_PRINCIPAL_TEXT_MAX + 1];
  icx_status rc = icxPrincipal_from_text((const char *)data, size, &p, &err);
  if (rc == ICX_OK) {
    size_t n = icxPrincipal_to_text(&p, text, sizeof text);
    if (n != size || memcmp(text, data, size) != 0)
      fuzz_fail("accepted text does not print back to itself");
  } else {
    if (rc != ICX_EINVAL) fuzz_fail("from_text status %d", rc);
    if (err.msg[0] == 0 || memchr(err.msg, 0, sizeof err.msg) == NULL)
      fuzz_fail("from_text failed without a message");
    if (p.len != 0) fuzz_fail("from_text failed but left a principal");
  }
  icx_status api = icx_principal_from_text((const char *)data, size, &q);
  if (api != rc || (rc == ICX_OK && icx_principal_compare(&p, &q) != 0))
    fuzz_fail("public from_text disagrees");

  size_t blen = size < ICX_PRINCIPAL_MAX_BYTES ? size : ICX_PRINCIPAL_MAX_BYTES;
  if (icxPrincipal_from_bytes(data, blen, &p, NULL) != ICX_OK) fuzz_fail("from_bytes failed");
  size_t n = icxPrincipal_to_text(&p, text, sizeof text);
  if (n == 0 || n > ICX_PRINCIPAL_TEXT_MAX) fuzz_fail("to_text length %zu", n);
  if (icxPrincipal_from_text(text, n, &q, &err) != ICX_OK) fuzz_fail("own text rejected: %s", err.msg);
  if (!icxPrincipal_eq(&p, &q)) fuzz_fail("bytes do not round-trip");
  if (icx_principal_to_text(&p, NULL, 0) != n + 1) fuzz_fail("public to_text size differs");
  uint64_t idx;
  if (icxPrincipal_canister_index(&p, &idx)) {
    icx_principal c = icxPrincipal_canister(idx);
    if (!icxPrincipal_eq(&c, &p)) fuzz_fail("canister index does not round-trip");
  }

  if (icxCrc32(0, data, size) != (uint32_t)crc32(0, data, (uInt)size)) fuzz_fail("crc32 differs from zlib");
  icx_principal s1 = icxPrincipal_self_authenticating(data, size);
  icx_principal s2 = icxPrincipal_self_authenticating(data, size);
  if (!icxPrincipal_eq(&s1, &s2) || s1.len != 29 || s1.bytes[28] != 0x02)
    fuzz_fail("self-authenticating principal wrong");
  return 0;
}
