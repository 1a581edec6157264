// Vector math shared by the fused CPU kernels (rescppn.cc, cppn.cc): SYN_P float32 lanes as
// one GCC vector, and the activations as polynomials and rationals a few ulp from torch's.
#pragma once
#include <cstdint>
#include <cstring>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifndef SYN_P
#define SYN_P 16
#endif

namespace syn {

constexpr int P = SYN_P;
typedef float vf __attribute__((vector_size(P * 4)));
typedef int32_t vi __attribute__((vector_size(P * 4)));

inline vf splat(float a) { return vf{} + a; }

// exp(y) for y <= 0: y = k ln2 + r, |r| <= ln2 / 2, degree-7 Taylor for exp(r), 2^k by bits.
inline vf vexp_neg(vf y) {
  y = y < -87.0f ? splat(-87.0f) : y;
  vi k = __builtin_convertvector(y * 1.44269504088896341f - 0.5f, vi);  // round to nearest for y <= 0
  vf kf = __builtin_convertvector(k, vf);
  vf r = y - kf * 0.693145751953125f - kf * 1.42860682030941723e-6f;
  vf p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
  vi bits = (k + 127) << 23;
  vf s;
  std::memcpy(&s, &bits, sizeof s);
  return p * s;
}

inline vf vabs(vf x) {
  vi b;
  std::memcpy(&b, &x, sizeof b);
  b &= 0x7fffffff;
  vf a;
  std::memcpy(&a, &b, sizeof a);
  return a;
}

// tanh(x) = x N(x^2) / D(x^2) on [-9, 9], a (4, 4) rational fitted to tanh's relative error
// (2e-8 in exact arithmetic, 3.4e-7 = a few ulp in float32), clamped to [-1, 1]; beyond 9,
// tanh is 1 to float precision. One division and nine FMAs: the gates' tanh was half the
// forward's cost with exp.
// 1 / d: on AVX-512, rcp14 and one Newton step (relative error about 4e-9, below float32's
// 6e-8) for a quarter of a division's cost; elsewhere the division.
inline vf vrecip(vf d) {
#if defined(__AVX512F__) && SYN_P == 16
  vf r = (vf)_mm512_rcp14_ps((__m512)d);
  return r * (2.0f - d * r);
#else
  return 1.0f / d;
#endif
}

template <bool Recip = false>
inline vf vtanh(vf x) {
  x = x > 9.0f ? splat(9.0f) : x;
  x = x < -9.0f ? splat(-9.0f) : x;
  vf s = x * x;
  vf num = 9.999999794e-01f + s * (1.338103424e-01f + s * (3.495598212e-03f + s * (2.060924219e-05f + s * 1.335487147e-08f)));
  vf den = 1.0f + s * (4.671434984e-01f + s * (2.587702092e-02f + s * (3.285651054e-04f + s * 7.776646663e-07f)));
  vf y = Recip ? x * num * vrecip(den) : x * num / den;
  y = y > 1.0f ? splat(1.0f) : y;
  return y < -1.0f ? splat(-1.0f) : y;
}

inline vf vsigmoid(vf x) {
  vf e = vexp_neg(-vabs(x));
  vf s = 1.0f / (1.0f + e);
  return x < 0.0f ? 1.0f - s : s;
}

inline float hsum(vf v) {
  float s = 0;
  for (int p = 0; p < P; ++p) s += v[p];
  return s;
}

inline vf vmax0(vf x) { return x > 0.0f ? x : vf{}; }

// log(1 + t) for t in [0, 1] as 2 atanh(s), s = t / (2 + t) <= 1/3: the odd series to s^15 is
// within 1e-8, and 1 + t is never formed, so small t keeps its precision.
inline vf vlog1p01(vf t) {
  vf s = t / (2.0f + t), q = s * s;
  return 2.0f * s * (1.0f + q * (1.0f / 3 + q * (1.0f / 5 + q * (1.0f / 7 + q * (1.0f / 9 + q * (1.0f / 11 + q * (1.0f / 13 + q * (1.0f / 15))))))));
}

// torch's softplus: log(1 + exp(beta x)) / beta, and x itself where beta x > threshold;
// written as max(v, 0) + log1p(exp(-|v|)) so that exp never overflows.
inline vf vsoftplus(vf x, float beta, float threshold) {
  vf v = x * beta;
  vf y = (vmax0(v) + vlog1p01(vexp_neg(-vabs(v)))) / beta;
  return v > threshold ? x : y;
}

// sin(x): k = round(x / pi), r = x - k pi in three parts (Cody-Waite: exact for |k| < 2^12,
// so |x| up to about 1e4 keeps float32 accuracy), odd Taylor polynomial to r^13 on |r| <= pi/2.
inline vf vsin(vf x) {
  vf kf = x * 0.318309886183790672f;
  kf = __builtin_convertvector(__builtin_convertvector(kf + (kf < 0.0f ? splat(-0.5f) : splat(0.5f)), vi), vf);
  vf r = x - kf * 3.140625f - kf * 9.675025939941406e-4f - kf * 1.5099580252808664e-7f;
  vf q = r * r;
  vf y = r * (1.0f + q * (-1.0f / 6 + q * (1.0f / 120 + q * (-1.0f / 5040 + q * (1.0f / 362880 + q * (-1.0f / 39916800 + q * (1.0f / 6227020800.0f)))))));
  vi odd = __builtin_convertvector(kf, vi) & 1;
  return odd != 0 ? -y : y;
}

// elu: x, or alpha (exp(x) - 1) below 0 (exp(x) - 1 is within 1e-7 of expm1 there)
inline vf velu(vf x, float alpha) {
  vf e = vexp_neg(x < 0.0f ? x : vf{});
  return x > 0.0f ? x : alpha * (e - 1.0f);
}

// erfc(a) for a >= 0 (Abramowitz and Stegun 7.1.26, absolute error <= 1.5e-7), so that
// gelu(x) = x erfc(-x / sqrt 2) / 2 keeps its tiny tail below 0 without cancellation.
inline vf verfc_pos(vf a) {
  vf t = 1.0f / (1.0f + 0.3275911f * a);
  vf p = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  return p * vexp_neg(-a * a);
}

inline vf vgelu(vf x) {
  vf a = vabs(x) * 0.707106781186547524f;
  vf c = verfc_pos(a);  // erfc(|x| / sqrt 2)
  return 0.5f * x * (x < 0.0f ? c : 2.0f - c);
}

inline vf vgelu_tanh(vf x) { return 0.5f * x * (1.0f + vtanh(0.797884560802865355f * (x + 0.044715f * x * x * x))); }

}  // namespace syn
