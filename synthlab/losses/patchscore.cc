// Neural Patches' matching step after the pixel-score matmul, for the CPU (patches.py's
// match_features is the reference and the CUDA path).
//
// g holds the pixel-level cosine scores of a block of output rows against every style pixel,
// (ny + 2, w, hs, ws). A 3x3 patch's score is the sum of 9 shifted entries; torch builds the
// (ny (w - 2), m) score matrix in 9 passes and reads it 3 more times (column max, penalty,
// row argmax). Here each output patch sums its 9 shifted rows into one style row at a time
// (SYN_P lanes per vector, in registers), in torch's order, so the scores are the same bits,
// and meets the column maxima and its own argmax there: the score matrix is never written.
#include <vector>

#include "../nets/vmath.h"

using namespace syn;

namespace {

inline vf load_n(const float* src, int n) {
  vf v = vf{};
  std::memcpy(&v, src, sizeof(float) * n);
  return v;
}

}  // namespace

extern "C" {

// Output patches [p0, p1) of the block (p = y * (w - 2) + x). best: (m,) column maxima, updated
// (each piece of work has its own, merged by the caller: max does not depend on order); pen:
// (m,) or null; idx: the argmax of score - pen per output patch (the first on a tie, as torch).
int syn_patch_scores(const float* g, int64_t ny, int64_t w, int64_t hs, int64_t ws, const float* pen, float* best,
                     int64_t* idx, int64_t p0, int64_t p1) {
  const int64_t wo = w - 2, hso = hs - 2, wso = ws - 2;
  const int64_t nv = (wso + P - 1) / P;  // vectors per style row; the last holds `tail` lanes
  const int tail = (int)(wso - (nv - 1) * P);
  vf lane;
  for (int i = 0; i < P; ++i) lane[i] = (float)i;
  const vf tail_ok = lane < (float)tail ? splat(1.0f) : vf{};  // 1 on the last vector's real lanes
  const vf minus_inf = splat(-__builtin_inff());
  std::vector<vf> acc(nv);
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t y = p / wo, x = p % wo;
    float top = -__builtin_inff();
    int64_t arg = 0;
    for (int64_t v = 0; v < hso; ++v) {
      const float* r[9];
      for (int dy = 0, k = 0; dy < 3; ++dy)
        for (int dx = 0; dx < 3; ++dx, ++k) r[k] = g + (((y + dy) * w + x + dx) * hs + v + dy) * ws + dx;
      float* b = best + v * wso;
      const float* q = pen ? pen + v * wso : nullptr;
      vf row_max = minus_inf;
      for (int64_t j = 0; j < nv; ++j) {
        const int n = j + 1 < nv ? P : tail;
        // torch's order: the (0, 0) view, then += (0, 1), (0, 2), (1, 0), ... (2, 2)
        vf a = load_n(r[0] + j * P, n);
        for (int k = 1; k < 9; ++k) a += load_n(r[k] + j * P, n);
        vf bj = load_n(b + j * P, n);
        bj = a > bj ? a : bj;
        std::memcpy(b + j * P, &bj, sizeof(float) * n);
        if (q) a -= load_n(q + j * P, n);
        if (n < P) a = tail_ok > 0.0f ? a : minus_inf;  // lanes past the row never win
        acc[j] = a;
        row_max = a > row_max ? a : row_max;
      }
      float m = row_max[0];
      for (int i = 1; i < P; ++i) m = row_max[i] > m ? row_max[i] : m;
      if (m > top) {  // the first (u) where this row reaches its maximum
        top = m;
        for (int64_t j = 0, found = 0; j < nv && !found; ++j)
          for (int i = 0; i < P; ++i)
            if (acc[j][i] == m) {
              arg = v * wso + j * P + i, found = 1;
              break;
            }
      }
    }
    idx[p] = arg;
  }
  (void)ny;
  return 0;
}
}
