/* api_principal.c -- the "principals" section of include/icexec.h: thin
 * wrappers over lib/principal.c.  No engine, no allocation. */
#include "core.h"
#include "principal.h"

_Static_assert(sizeof(icx_principal) == 1 + ICX_PRINCIPAL_MAX_BYTES, "icx_principal has no padding");

uint32_t icx_principal_max_bytes(void) { return ICX_PRINCIPAL_MAX_BYTES; }

uint32_t icx_principal_text_max(void) { return ICX_PRINCIPAL_TEXT_MAX; }

icx_status icx_principal_from_bytes(const uint8_t *bytes, size_t len, icx_principal *out) {
  return icxPrincipal_from_bytes(bytes, len, out, NULL);
}

icx_status icx_principal_from_text(const char *text, size_t len, icx_principal *out) {
  return icxPrincipal_from_text(text, len, out, NULL);
}

size_t icx_principal_to_text(const icx_principal *p, char *buf, size_t cap) {
  if (p == NULL || p->len > ICX_PRINCIPAL_MAX_BYTES) {
    if (buf && cap) buf[0] = 0;
    return 0;
  }
  return icxPrincipal_to_text(p, buf, cap) + 1;
}

icx_status icx_principal_management(icx_principal *out) {
  if (out == NULL) return ICX_EINVAL;
  *out = icxPrincipal_management();
  return ICX_OK;
}

icx_status icx_principal_anonymous(icx_principal *out) {
  if (out == NULL) return ICX_EINVAL;
  *out = icxPrincipal_anonymous();
  return ICX_OK;
}

icx_status icx_principal_from_canister_index(uint64_t index, icx_principal *out) {
  if (out == NULL) return ICX_EINVAL;
  *out = icxPrincipal_canister(index);
  return ICX_OK;
}

icx_status icx_principal_canister_index(const icx_principal *p, uint64_t *out_index) {
  if (out_index) *out_index = 0;
  if (p == NULL || out_index == NULL) return ICX_EINVAL;
  return icxPrincipal_canister_index(p, out_index) ? ICX_OK : ICX_EINVAL;
}

icx_status icx_principal_self_authenticating(const uint8_t *der_key, size_t len,
                                             icx_principal *out) {
  if (out) memset(out, 0, sizeof *out);
  if (out == NULL || (der_key == NULL && len > 0)) return ICX_EINVAL;
  *out = icxPrincipal_self_authenticating(der_key, len);
  return ICX_OK;
}

int32_t icx_principal_compare(const icx_principal *a, const icx_principal *b) {
  if (a == NULL || b == NULL) return a == b ? 0 : (a == NULL ? -1 : 1);
  icx_principal x = *a, y = *b;
  if (x.len > ICX_PRINCIPAL_MAX_BYTES) x.len = ICX_PRINCIPAL_MAX_BYTES;
  if (y.len > ICX_PRINCIPAL_MAX_BYTES) y.len = ICX_PRINCIPAL_MAX_BYTES;
  return icxPrincipal_cmp(&x, &y);
}
