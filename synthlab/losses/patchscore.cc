// Neural Patches' matching step after the pixel-score matmul, for the CPU (patches.py's
// match_features is the reference and the CUDA path).
//
// g holds the pixel-level cosine scores of a block of output rows against every style pixel,
// (ny + 2, w, hs, ws). A 3x3 patch's score is the sum of 9 shifted entries; torch builds the
// (ny (w - 2), m) score matrix in 9 passes and reads it 3 more times (column max, penalty,
// row argmax). Here each output patch sums its 9 shifted rows into one style row at a time
// (SYN_P lanes per vector, in registers), in torch's order, so the scores are the same bits,
// and meets the column maxima and its own argmax there: the score matrix is never written.
#include <algorithm>
#include <vector>

#include "../nets/vmath.h"

using namespace syn;

#ifndef SYN_TX
#define SYN_TX 4  // output patches per tile
#endif

namespace {

// Loads and stores of n <= P floats. A whole vector is one fixed-size copy (a single unaligned
// vector move). The last, partial vector of a row is a masked move on AVX-512 and a memcpy
// elsewhere (a library call: when every load was one, the calls were over half the matching time).
template <bool Whole>
inline vf load(const float* src, int n) {
  vf v = vf{};
  if (Whole) {
    std::memcpy(&v, src, sizeof v);
  } else {
#if defined(__AVX512F__) && SYN_P == 16
    v = (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), src);
#else
    std::memcpy(&v, src, sizeof(float) * n);
#endif
  }
  return v;
}

template <bool Whole>
inline void store(float* dst, vf v, int n) {
  if (Whole) {
    std::memcpy(dst, &v, sizeof v);
  } else {
#if defined(__AVX512F__) && SYN_P == 16
    _mm512_mask_storeu_ps(dst, (__mmask16)((1u << n) - 1), (__m512)v);
#else
    std::memcpy(dst, &v, sizeof(float) * n);
#endif
  }
}

// Vector j of one style row for the tile's nx output patches (t = 0..nx-1, adjacent in x):
// each patch's 9 shifted pixel scores summed in torch's order (the (0, 0) view, then += (0, 1),
// (0, 2), (1, 0), ... (2, 2)), so the same bits; the column maxima met in patch order, as one
// patch at a time would; the penalty taken; lanes past the row set to -inf (they never win).
template <bool Whole>
inline void tile_scores(const float* const* rows, int64_t slab, int nx, float* b, const float* q, int64_t off,
                        int n, vf lane_ok, vf* acc, int64_t nv, vf* row_max) {
  const vf minus_inf = splat(-__builtin_inff());
  vf bj = load<Whole>(b + off, n);
  const vf qj = q ? load<Whole>(q + off, n) : vf{};
  for (int t = 0; t < nx; ++t) {
    vf a = vf{};
    for (int dy = 0, k = 0; dy < 3; ++dy)
      for (int dx = 0; dx < 3; ++dx, ++k) {
        const vf r = load<Whole>(rows[dy] + (t + dx) * slab + dx + off, n);
        a = k ? a + r : r;
      }
    bj = a > bj ? a : bj;
    if (q) a -= qj;
    if (!Whole) a = lane_ok > 0.0f ? a : minus_inf;
    acc[t * nv] = a;
    row_max[t] = a > row_max[t] ? a : row_max[t];
  }
  store<Whole>(b + off, bj, n);
}

}  // namespace

extern "C" {

// Output patches [p0, p1) of the block (p = y * (w - 2) + x). best: (m,) column maxima, updated
// (each piece of work has its own, merged by the caller: max does not depend on order); pen:
// (m,) or null; idx: the argmax of score - pen per output patch (the first on a tie, as torch).
// Patches go in tiles of TX adjacent in x: for each style row, the tile's 3 x (TX + 2) rows of
// pixel scores are read once from memory and reused from L1 by the patches that share them.
int syn_patch_scores(const float* g, int64_t ny, int64_t w, int64_t hs, int64_t ws, const float* pen, float* best,
                     int64_t* idx, int64_t p0, int64_t p1) {
  constexpr int TX = SYN_TX;
  const int64_t wo = w - 2, hso = hs - 2, wso = ws - 2, slab = hs * ws;
  const int64_t nv = (wso + P - 1) / P;  // vectors per style row; the last holds `tail` lanes
  const int tail = (int)(wso - (nv - 1) * P);
  vf lane;
  for (int i = 0; i < P; ++i) lane[i] = (float)i;
  const vf tail_ok = lane < (float)tail ? splat(1.0f) : vf{};  // 1 on the last vector's real lanes
  std::vector<vf> acc(TX * nv);
  for (int64_t p = p0; p < p1;) {
    const int64_t y = p / wo, x0 = p % wo;
    const int nx = (int)std::min<int64_t>({TX, wo - x0, p1 - p});
    float top[TX];
    int64_t arg[TX] = {};
    for (int t = 0; t < TX; ++t) top[t] = -__builtin_inff();
    for (int64_t v = 0; v < hso; ++v) {
      const float* rows[3];  // (y + dy, x0, v + dy, 0): the tile's first row at each dy
      for (int dy = 0; dy < 3; ++dy) rows[dy] = g + ((y + dy) * w + x0) * slab + (v + dy) * ws;
      float* b = best + v * wso;
      const float* q = pen ? pen + v * wso : nullptr;
      vf row_max[TX];
      for (int t = 0; t < TX; ++t) row_max[t] = splat(-__builtin_inff());
      for (int64_t j = 0; j + 1 < nv; ++j)
        tile_scores<true>(rows, slab, nx, b, q, j * P, P, tail_ok, acc.data() + j, nv, row_max);
      tile_scores<false>(rows, slab, nx, b, q, (nv - 1) * P, tail, tail_ok, acc.data() + nv - 1, nv, row_max);
      for (int t = 0; t < nx; ++t) {
        float m = row_max[t][0];
        for (int i = 1; i < P; ++i) m = row_max[t][i] > m ? row_max[t][i] : m;
        if (m > top[t]) {  // the first (u) where this row reaches its maximum
          top[t] = m;
          const vf* at = acc.data() + t * nv;
          for (int64_t j = 0, found = 0; j < nv && !found; ++j)
            for (int i = 0; i < P; ++i)
              if (at[j][i] == m) {
                arg[t] = v * wso + j * P + i, found = 1;
                break;
              }
        }
      }
    }
    for (int t = 0; t < nx; ++t) idx[p + t] = arg[t];
    p += nx;
  }
  (void)ny;
  return 0;
}
}
