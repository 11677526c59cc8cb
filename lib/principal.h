/* principal.h -- IC principals: bytes, textual form, canister ids, classes
 * (docs/principals-candid.md).
 *
 * A principal is 0..29 bytes (icx_principal of include/icexec.h).  Its
 * textual form is base32(crc32_be(bytes) ++ bytes) in lower case (RFC 4648
 * alphabet a-z2-7, no padding), with a dash after every 5 characters.
 * Parsing accepts only that canonical form -- as the replica's
 * Principal::from_text does (it decodes liberally, re-prints and compares):
 * upper case, a missing or misplaced dash, a wrong checksum, non-zero
 * padding bits or more than 29 bytes are all rejected. */
#ifndef ICX_PRINCIPAL_H
#define ICX_PRINCIPAL_H

#include "core.h"

/* Class byte (the last byte) of the principal kinds (interface spec,
 * "Principals"). */
#define ICX_PRINCIPAL_CLASS_OPAQUE 0x01u
#define ICX_PRINCIPAL_CLASS_SELF_AUTH 0x02u
#define ICX_PRINCIPAL_CLASS_DERIVED 0x03u
#define ICX_PRINCIPAL_CLASS_ANONYMOUS 0x04u

/* ---- hashes used for principals ----------------------------------------- */

/* CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final xor
 * 0xFFFFFFFF: the zlib/crc32fast value).  crc: 0 to start, or a previous
 * result to continue. */
ICX_INTERNAL uint32_t icxCrc32(uint32_t crc, const uint8_t *p, size_t n);

#define ICX_SHA224_BYTES 28
/* SHA-224 (FIPS 180-4: SHA-256 with its own initial values, truncated to 28
 * bytes) of p[0..n). */
ICX_INTERNAL void icxSha224(const uint8_t *p, size_t n, uint8_t out[ICX_SHA224_BYTES]);

/* ---- principals --------------------------------------------------------- */

/* Set *out to bytes[0..len).  Errors: ICX_EINVAL (len > 29, or bytes NULL
 * with len > 0).  *out is the empty principal on error. */
ICX_INTERNAL icx_status icxPrincipal_from_bytes(const uint8_t *bytes, size_t len,
                                                icx_principal *out, icxErr *err);
/* The management canister (empty) and the anonymous principal (0x04). */
ICX_INTERNAL icx_principal icxPrincipal_management(void);
ICX_INTERNAL icx_principal icxPrincipal_anonymous(void);
/* The canister id of index idx: 8 bytes big-endian idx, then 0x01 0x01
 * (CanisterId::from_u64: opaque class, as drun's rwlgt-iiaaa-... = 0). */
ICX_INTERNAL icx_principal icxPrincipal_canister(uint64_t idx);
/* If p has the canister-id layout above, set *idx and return 1, else 0. */
ICX_INTERNAL int icxPrincipal_canister_index(const icx_principal *p, uint64_t *idx);
/* Self-authenticating id of a DER-encoded public key: SHA-224(der) ++ 0x02.
 * The key bytes are not checked (the replica hashes whatever it is given). */
ICX_INTERNAL icx_principal icxPrincipal_self_authenticating(const uint8_t *der, size_t len);
/* 1 if a and b are the same bytes. */
ICX_INTERNAL int icxPrincipal_eq(const icx_principal *a, const icx_principal *b);
/* Byte-wise lexicographic order (shorter prefix first): -1, 0, 1. */
ICX_INTERNAL int icxPrincipal_cmp(const icx_principal *a, const icx_principal *b);

/* Write the textual form and a NUL into buf[0..cap).  Returns the length of
 * the text without the NUL (so cap must be at least that + 1); if cap is
 * too small buf gets "" (cap > 0) and the length is still returned.  A
 * principal with len > 29 gives 0 and "". */
ICX_INTERNAL size_t icxPrincipal_to_text(const icx_principal *p, char *buf, size_t cap);
/* Parse text[0..len) (no NUL needed).  Errors: ICX_EINVAL with a message
 * naming the problem: too short/long, a character outside a-z 2-7 and '-',
 * a dash in the wrong place, non-canonical padding bits, checksum mismatch. */
ICX_INTERNAL icx_status icxPrincipal_from_text(const char *text, size_t len, icx_principal *out,
                                               icxErr *err);

#endif
