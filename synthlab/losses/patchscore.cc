// Neural Patches' matching step after the pixel-score matmul, for the CPU (patches.py's
// match_features is the reference and the CUDA path).
//
// g holds the pixel-level cosine scores of a block of output rows against every style pixel,
// (ny + 2, w, hs, ws). A 3x3 patch's score is the sum of 9 shifted entries; torch builds the
// (ny (w - 2), m) score matrix in 9 passes and reads it 3 more times (column max, penalty,
// row argmax). Here each output patch sums its 9 shifted rows into one style row at a time
// (ws - 2 floats, in L1), in torch's order, so the scores are the same bits, and meets the
// column maxima and its own argmax there: the score matrix is never written.
#include <cstdint>
#include <cstring>
#include <vector>

extern "C" {

// Output patches [p0, p1) of the block (p = y * (w - 2) + x). best: (m,) column maxima, updated
// (max is order-free, so threads may share nothing but their own copy); pen: (m,) or null;
// idx: (ny (w - 2),) the argmax of score - pen per output patch (the first on a tie, as torch).
int syn_patch_scores(const float* g, int64_t ny, int64_t w, int64_t hs, int64_t ws, const float* pen, float* best,
                     int64_t* idx, int64_t p0, int64_t p1) {
  const int64_t wo = w - 2, hso = hs - 2, wso = ws - 2, plane = hs * ws;
  std::vector<float> acc(wso);
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t y = p / wo, x = p % wo;
    float top = -__builtin_inff();
    int64_t arg = 0;
    for (int64_t v = 0; v < hso; ++v) {
      // torch's order: the (0, 0) view, then += (0, 1), (0, 2), (1, 0), ... (2, 2)
      const float* r0 = g + ((y * w + x) * hs + v) * ws;
      std::memcpy(acc.data(), r0, sizeof(float) * wso);
      for (int dy = 0; dy < 3; ++dy)
        for (int dx = 0; dx < 3; ++dx) {
          if (!dy && !dx) continue;
          const float* r = g + (((y + dy) * w + x + dx) * hs + v + dy) * ws + dx;
          for (int64_t u = 0; u < wso; ++u) acc[u] += r[u];
        }
      float* b = best + v * wso;
      for (int64_t u = 0; u < wso; ++u) b[u] = acc[u] > b[u] ? acc[u] : b[u];
      if (pen) {
        const float* q = pen + v * wso;
        for (int64_t u = 0; u < wso; ++u) acc[u] -= q[u];
      }
      for (int64_t u = 0; u < wso; ++u)
        if (acc[u] > top) top = acc[u], arg = v * wso + u;
    }
    idx[p] = arg;
  }
  (void)ny;
  return 0;
}
}
