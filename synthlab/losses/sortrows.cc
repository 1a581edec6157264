// The sliced Wasserstein critic's sort, for the CPU (sliced.py's torch.sort is the reference and
// the CUDA path): each row of projections sorted ascending, as the permutation that sorts it.
//
// torch sorts a row of n floats by comparisons, about 25 ns per value here (a quarter of the
// rows' n log n). A least-significant-digit radix sort on the floats' bits takes four passes
// of 8 bits, each a histogram and a stable scatter of (key, index) pairs: no comparison and no
// branch on the data. Being stable, equal values keep their order, so the result does not
// depend on the thread count or on the rest of the row.
#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// Unsigned keys in the floats' order: a negative float's bits are all flipped, a positive
// float's sign bit is set (-0.0 sorts just before +0.0; NaNs, which features never hold, last
// if positive and first if negative).
inline uint32_t key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

}  // namespace

extern "C" {

// Rows [r0, r1) of x (rows, n), row-major: idx (rows, n) gets each row's sorting permutation.
int syn_sort_rows(const float* x, int64_t n, int64_t* idx, int64_t r0, int64_t r1) {
  std::vector<uint32_t> ka(n), kb(n), ia(n), ib(n);
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * n;
    for (int64_t i = 0; i < n; ++i) ka[i] = key(row[i]), ia[i] = (uint32_t)i;
    uint32_t *k = ka.data(), *k2 = kb.data(), *id = ia.data(), *id2 = ib.data();
    for (int shift = 0; shift < 32; shift += 8) {
      int64_t count[257] = {};
      for (int64_t i = 0; i < n; ++i) ++count[((k[i] >> shift) & 255) + 1];
      if (count[((k[0] >> shift) & 255) + 1] == n) continue;  // one digit for the whole row: order unchanged
      for (int d = 0; d < 256; ++d) count[d + 1] += count[d];
      for (int64_t i = 0; i < n; ++i) {
        const int64_t to = count[(k[i] >> shift) & 255]++;
        k2[to] = k[i], id2[to] = id[i];
      }
      std::swap(k, k2), std::swap(id, id2);
    }
    int64_t* out = idx + r * n;
    for (int64_t i = 0; i < n; ++i) out[i] = id[i];
  }
  return 0;
}
}
