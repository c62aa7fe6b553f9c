/* Units of the shared format header: varints, zigzag, CRC-32C, and the
 * event decoder's plain and compact forms. */
#include "ctrace/format.h"
#include "test.h"

TEST_IMPL(varint_roundtrip) {
  static const uint64_t v[] = {0,
                               1,
                               127,
                               128,
                               255,
                               16383,
                               16384,
                               (1u << 21) - 1,
                               1u << 21,
                               UINT32_MAX,
                               (uint64_t)UINT32_MAX + 1,
                               UINT64_MAX / 2,
                               UINT64_MAX - 1,
                               UINT64_MAX};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    uint8_t buf[CTRACE_FMT_VARINT_MAX + 4];
    memset(buf, 0xee, sizeof buf);
    uint8_t *end = ctrace_fmt_put_varint(buf, v[i]);
    size_t n = (size_t)(end - buf);
    /* Length: ceil(bits / 7), at least 1. */
    size_t bits = 0;
    for (uint64_t x = v[i]; x; x >>= 1)
      bits++;
    ASSERT_EQ(n, bits ? (bits + 6) / 7 : 1);
    uint64_t got = 12345;
    ASSERT(ctrace_fmt_get_varint(buf, end, &got) == end);
    ASSERT_UEQ(got, v[i]);
    /* Every shorter prefix is an error, not a wrong value. */
    for (size_t k = 0; k < n; k++)
      ASSERT(ctrace_fmt_get_varint(buf, buf + k, &got) == NULL);
  }
  /* Every value of the form 2^k - 1 and 2^k. */
  for (int k = 0; k < 64; k++) {
    uint8_t buf[16];
    uint64_t x = (uint64_t)1 << k, got;
    ASSERT(ctrace_fmt_get_varint(buf, ctrace_fmt_put_varint(buf, x), &got));
    ASSERT_UEQ(got, x);
    ASSERT(ctrace_fmt_get_varint(buf, ctrace_fmt_put_varint(buf, x - 1), &got));
    ASSERT_UEQ(got, x - 1);
  }
  return 0;
}

TEST_IMPL(varint_rejects) {
  uint64_t v;
  /* 11 bytes with continuation bits: too long. */
  uint8_t longv[11];
  memset(longv, 0x80, sizeof longv);
  longv[10] = 0;
  ASSERT(ctrace_fmt_get_varint(longv, longv + 11, &v) == NULL);
  /* 10th byte carrying more than the 64th bit: overflow. */
  uint8_t over[10];
  memset(over, 0xff, 9);
  over[9] = 0x02;
  ASSERT(ctrace_fmt_get_varint(over, over + 10, &v) == NULL);
  over[9] = 0x01; /* exactly UINT64_MAX */
  ASSERT(ctrace_fmt_get_varint(over, over + 10, &v) == over + 10);
  ASSERT_UEQ(v, UINT64_MAX);
  /* Empty input. */
  ASSERT(ctrace_fmt_get_varint(over, over, &v) == NULL);
  return 0;
}

TEST_IMPL(zigzag) {
  static const int64_t v[] = {0, -1, 1, -2, 2, INT32_MIN, INT32_MAX, INT64_MIN, INT64_MAX};
  static const uint64_t z[] = {0, 1, 2, 3, 4, 0xffffffffu, 0xfffffffeu, UINT64_MAX, UINT64_MAX - 1};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    ASSERT_UEQ(ctrace_fmt_zigzag(v[i]), z[i]);
    ASSERT_EQ(ctrace_fmt_unzigzag(z[i]), v[i]);
  }
  return 0;
}

TEST_IMPL(crc32c) {
  /* The standard check value of CRC-32C (RFC 3720 appendix B.4). */
  ASSERT_UEQ(ctrace_fmt_crc32c(0, "123456789", 9), 0xe3069283u);
  ASSERT_UEQ(ctrace_fmt_crc32c_sw(0, (const uint8_t *)"123456789", 9), 0xe3069283u);
  uint8_t zeros[32] = {0};
  ASSERT_UEQ(ctrace_fmt_crc32c(0, zeros, 32), 0x8a9136aau); /* RFC 3720 B.4 */
  /* Hardware and software agree on every length and alignment, and CRCs
   * continue across calls. */
  uint8_t buf[300];
  for (size_t i = 0; i < sizeof buf; i++)
    buf[i] = (uint8_t)(i * 131 + 7);
  for (size_t off = 0; off < 8; off++)
    for (size_t n = 0; n + off <= sizeof buf; n += 7) {
      uint32_t a = ctrace_fmt_crc32c(0, buf + off, n);
      ASSERT_UEQ(a, ctrace_fmt_crc32c_sw(0, buf + off, n));
      size_t h = n / 3;
      ASSERT_UEQ(a, ctrace_fmt_crc32c(ctrace_fmt_crc32c(0, buf + off, h), buf + off + h, n - h));
    }
  return 0;
}

TEST_IMPL(event_decode) {
  uint8_t b[64], *p = b;
  /* Compact begin (site 5, delta 300), compact end (delta 7), plain end
   * (delta 1000), plain begin (site 100), counter -3, log with a string. */
  *p++ = CTRACE_FMT_SHORT_BEGIN | 5;
  p = ctrace_fmt_put_varint(p, 300);
  *p++ = CTRACE_FMT_SHORT_END | 7;
  *p++ = CTRACE_FMT_EV_REGION_END;
  p = ctrace_fmt_put_varint(p, 1000);
  *p++ = CTRACE_FMT_EV_REGION_BEGIN;
  p = ctrace_fmt_put_varint(p, 2);
  p = ctrace_fmt_put_varint(p, 100);
  *p++ = CTRACE_FMT_EV_COUNTER;
  p = ctrace_fmt_put_varint(p, 0);
  p = ctrace_fmt_put_varint(p, 9);
  p = ctrace_fmt_put_varint(p, ctrace_fmt_zigzag(-3));
  *p++ = CTRACE_FMT_EV_LOG;
  p = ctrace_fmt_put_varint(p, 1);
  p = ctrace_fmt_put_varint(p, 77);
  p = ctrace_fmt_put_varint(p, 4);
  p = ctrace_fmt_put_varint(p, 0);
  p = ctrace_fmt_put_varint(p, 3);
  memcpy(p, "abc", 3);
  p += 3;
  const uint8_t *end = p;

  static const struct {
    unsigned type;
    uint64_t delta, a0, a1;
  } want[] = {{CTRACE_FMT_EV_REGION_BEGIN, 300, 5, 0}, {CTRACE_FMT_EV_REGION_END, 7, 0, 0},
              {CTRACE_FMT_EV_REGION_END, 1000, 0, 0},  {CTRACE_FMT_EV_REGION_BEGIN, 2, 100, 0},
              {CTRACE_FMT_EV_COUNTER, 0, 9, 5},        {CTRACE_FMT_EV_LOG, 1, 77, 4}};
  const uint8_t *q = b;
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    unsigned type;
    uint64_t delta, args[CTRACE_FMT_EVENT_MAX_VARINTS], slen;
    const uint8_t *str;
    q = ctrace_fmt_decode_event(q, end, &type, &delta, args, &str, &slen);
    ASSERT(q != NULL);
    ASSERT_EQ(type, want[i].type);
    ASSERT_UEQ(delta, want[i].delta);
    ASSERT_UEQ(args[0], want[i].a0);
    ASSERT_UEQ(args[1], want[i].a1);
    if (type == CTRACE_FMT_EV_LOG) {
      ASSERT_UEQ(slen, 3);
      ASSERT(memcmp(str, "abc", 3) == 0);
    } else {
      ASSERT(str == NULL);
    }
  }
  ASSERT(q == end);

  /* Unknown type, truncated arguments and an overlong string all fail. */
  unsigned type;
  uint64_t delta, args[CTRACE_FMT_EVENT_MAX_VARINTS], slen;
  const uint8_t *str;
  uint8_t bad[] = {0x3f, 0};
  ASSERT(ctrace_fmt_decode_event(bad, bad + 2, &type, &delta, args, &str, &slen) == NULL);
  ASSERT_EQ(type, 0x3f);
  uint8_t trunc[] = {CTRACE_FMT_EV_TASK_BEGIN, 1, 2};
  ASSERT(ctrace_fmt_decode_event(trunc, trunc + 3, &type, &delta, args, &str, &slen) == NULL);
  uint8_t longstr[] = {CTRACE_FMT_EV_THREAD_NAME, 0, 5, 'a', 'b'};
  ASSERT(ctrace_fmt_decode_event(longstr, longstr + 5, &type, &delta, args, &str, &slen) == NULL);
  /* Every event code the table names has a shape; codes past it do not. */
  for (unsigned t = 1; t < CTRACE_FMT_EV_COUNT_; t++) {
    unsigned nv, ns;
    ctrace_fmt_event_shape(t, &nv, &ns);
    ASSERT(nv <= CTRACE_FMT_EVENT_MAX_VARINTS && ns <= CTRACE_FMT_EVENT_MAX_STRINGS);
    ASSERT(ctrace_fmt_event_name(t) != NULL);
  }
  unsigned nv, ns;
  ctrace_fmt_event_shape(CTRACE_FMT_EV_COUNT_, &nv, &ns);
  ASSERT_EQ(nv, 0xff);
  ASSERT(CTRACE_FMT_EV_COUNT_ <= CTRACE_FMT_SHORT_BEGIN); /* plain codes stay below 0x40 */
  return 0;
}
