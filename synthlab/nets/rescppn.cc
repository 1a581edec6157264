// The residual CPPN generator (hardmaru's resnet-cppn-gan) fused per point, for the CPU.
//
// Each point runs all blocks * (sub_depth + 1) layers of width W with its activations in
// registers, SYN_P points at a time as one GCC vector, so no layer ever writes a (W, B*N)
// tensor to memory: torch's per-layer ops are memory-bound at width 6 and collapse when cores
// are shared. The backward recomputes a point block's forward, keeps its activations in a
// small local buffer and accumulates the weight gradients per fixed group of work items, so
// the sums do not depend on the thread count. Built by synthlab/nets/fused.py with the system
// compiler and called through ctypes; the torch path (synthlab/nets/cppn.py) is the reference.
#include <vector>

#include "vmath.h"

namespace {

using namespace syn;

struct Net {
  int nb, S, C;
  const float *bw, *bb, *ow, *ob;  // (nb, S+1, W, W), (nb, S+1, W), (C, W), (C)
  const float* zb;                 // (B, nb, W) or null: z's per-image bias on each block's first layer
};

template <int W>
inline void dense(const float* w, const float* b, const vf* in, vf* out) {
  for (int o = 0; o < W; ++o) {
    vf acc = splat(b[o]);
    for (int i = 0; i < W; ++i) acc += w[o * W + i] * in[i];
    out[o] = acc;
  }
}

// One point block forward. store (optional): per residual block, h_k, the S relu outputs and
// the gate's tanh, W vectors each, then the final h: ((S + 2) * nb + 1) * W vectors.
// zb: this image's row of n.zb, or null.
template <int W>
inline void forward_block(const Net& n, const vf* u0, vf* y, vf* store, const float* zb) {
  vf h[W], g[W], o[W];
  for (int i = 0; i < W; ++i) h[i] = vtanh(u0[i]);
  const int per = (n.S + 2) * W;
  for (int k = 0; k < n.nb; ++k) {
    const float* w = n.bw + (size_t)k * (n.S + 1) * W * W;
    const float* b = n.bb + (size_t)k * (n.S + 1) * W;
    vf* st = store ? store + (size_t)k * per : nullptr;
    for (int i = 0; i < W; ++i) g[i] = h[i];
    if (st) std::memcpy(st, h, sizeof h);
    for (int s = 0; s < n.S; ++s) {
      dense<W>(w + s * W * W, b + s * W, g, o);
      if (s == 0 && zb)
        for (int i = 0; i < W; ++i) o[i] += zb[k * W + i];
      for (int i = 0; i < W; ++i) g[i] = o[i] > 0.0f ? o[i] : vf{};
      if (st) std::memcpy(st + (1 + s) * W, g, sizeof g);
    }
    dense<W>(w + n.S * W * W, b + n.S * W, g, o);
    for (int i = 0; i < W; ++i) {
      o[i] = vtanh(o[i]);
      h[i] += o[i];
    }
    if (st) std::memcpy(st + (1 + n.S) * W, o, sizeof o);
  }
  if (store) std::memcpy(store + (size_t)n.nb * per, h, sizeof h);
  for (int c = 0; c < n.C; ++c) {
    vf acc = splat(n.ob[c]);
    for (int i = 0; i < W; ++i) acc += n.ow[c * W + i] * h[i];
    y[c] = vsigmoid(acc);
  }
}

inline void load(vf* dst, const float* src, int count) {
  *dst = vf{};
  std::memcpy(dst, src, sizeof(float) * count);
}

template <int W>
inline void input_block(const float* base, const float* cb, int64_t N, int64_t n0, int cnt, vf* u0) {
  for (int i = 0; i < W; ++i) {
    load(&u0[i], base + i * N + n0, cnt);
    u0[i] += cb[i];
  }
}

template <int W>
void forward_items(const Net& n, int64_t B, int64_t N, const float* base, const float* cb, float* y,
                   int64_t it0, int64_t it1) {
  const int64_t nblk = (N + P - 1) / P;
  std::vector<vf> yv(n.C);
  for (int64_t it = it0; it < it1; ++it) {
    int64_t b = it / nblk, n0 = (it % nblk) * P;
    int cnt = (int)(N - n0 < P ? N - n0 : P);
    vf u0[W];
    input_block<W>(base, cb + b * W, N, n0, cnt, u0);
    forward_block<W>(n, u0, yv.data(), nullptr, n.zb ? n.zb + b * n.nb * W : nullptr);
    for (int c = 0; c < n.C; ++c) std::memcpy(y + (b * n.C + c) * N + n0, &yv[c], sizeof(float) * cnt);
  }
}

// Backward over the work items of groups [g0, g1) of G. acc: G rows of the parameter
// gradients in the order of (bw, bb, ow, ob); du0: (B, W, N), the gradient of the input
// layer's pre-activation, from which the caller sums the coordinate and z parts. dzb (items,
// nb, W), with n.zb only: each work item's gradient of the per-image block biases, summed
// per image by the caller in a fixed order.
// A group runs in tiles of T point blocks, layer by layer across the tile, so each weight's
// gradient is gathered over T blocks in registers before it meets its accumulator.
constexpr int T = 8;

template <int W>
void backward_groups(const Net& n, int64_t B, int64_t N, const float* base, const float* cb, const float* gy,
                     float* du0, double* dzb, double* acc, int64_t G, int64_t g0, int64_t g1) {
  const int64_t nblk = (N + P - 1) / P, items = B * nblk;
  const int S = n.S, per = (S + 2) * W;
  const size_t slot = (size_t)n.nb * per + W;  // one block's stored activations
  const size_t nbw = (size_t)n.nb * (S + 1) * W * W, nbb = (size_t)n.nb * (S + 1) * W;
  const size_t nparam = nbw + nbb + (size_t)n.C * W + n.C;
  // the group's sums stay one vector per parameter (lane-wise partial sums) until the group
  // ends: a horizontal sum per parameter and tile would cost more than the FMAs
  std::vector<vf> store(T * slot), yv(n.C), part(nparam);
  vf dh[T][W], d[T][W], da[T][W];
  int64_t tb[T], tn[T];
  int tc[T];
  for (int64_t g = g0; g < g1; ++g) {
    std::fill(part.begin(), part.end(), vf{});
    vf *dbw = part.data(), *dbb = dbw + nbw, *dow = dbb + nbb, *dob = dow + n.C * W;
    const int64_t end = (g + 1) * items / G;
    for (int64_t it0 = g * items / G; it0 < end; it0 += T) {
      const int nt = (int)(end - it0 < T ? end - it0 : T);
      for (int t = 0; t < nt; ++t) {
        int64_t it = it0 + t, b = it / nblk, n0 = (it % nblk) * P;
        tb[t] = b, tn[t] = n0, tc[t] = (int)(N - n0 < P ? N - n0 : P);
        vf u0[W];
        input_block<W>(base, cb + b * W, N, n0, tc[t], u0);
        vf* st = store.data() + t * slot;
        forward_block<W>(n, u0, yv.data(), st, n.zb ? n.zb + b * n.nb * W : nullptr);
        const vf* hf = st + (size_t)n.nb * per;
        for (int i = 0; i < W; ++i) dh[t][i] = vf{};
        for (int c = 0; c < n.C; ++c) {
          vf gyc;
          load(&gyc, gy + (b * n.C + c) * N + n0, tc[t]);  // zero beyond the last point: no gradient
          vf dp = gyc * yv[c] * (1.0f - yv[c]);
          dob[c] += dp;
          for (int i = 0; i < W; ++i) {
            dow[c * W + i] += dp * hf[i];
            dh[t][i] += n.ow[c * W + i] * dp;
          }
        }
      }
      for (int k = n.nb - 1; k >= 0; --k) {
        const float* w = n.bw + (size_t)k * (S + 1) * W * W;
        vf* dw = dbw + (size_t)k * (S + 1) * W * W;
        vf* db = dbb + (size_t)k * (S + 1) * W;
        for (int t = 0; t < nt; ++t) {
          const vf* gate = store.data() + t * slot + (size_t)k * per + (1 + S) * W;
          for (int o = 0; o < W; ++o) d[t][o] = dh[t][o] * (1.0f - gate[o] * gate[o]);
        }
        for (int s = S; s >= 0; --s) {  // layer s maps stored s (h_k or a relu output) to the next
          const float* ws = w + s * W * W;
          const size_t off = (size_t)k * per + s * W;
          for (int o = 0; o < W; ++o) {
            vf sb = vf{}, sw[W] = {};
            for (int t = 0; t < nt; ++t) {
              const vf* a = store.data() + t * slot + off;
              sb += d[t][o];
              for (int i = 0; i < W; ++i) sw[i] += d[t][o] * a[i];
            }
            db[s * W + o] += sb;
            for (int i = 0; i < W; ++i) dw[(s * W + o) * W + i] += sw[i];
          }
          for (int t = 0; t < nt; ++t) {
            const vf* a = store.data() + t * slot + off;
            for (int i = 0; i < W; ++i) {
              vf v = vf{};
              for (int o = 0; o < W; ++o) v += ws[o * W + i] * d[t][o];
              da[t][i] = v;
            }
            if (s == 0 && dzb)
              for (int o = 0; o < W; ++o) dzb[((it0 + t) * n.nb + k) * W + o] = hsum(d[t][o]);
            if (s > 0)
              for (int i = 0; i < W; ++i) d[t][i] = a[i] > 0.0f ? da[t][i] : vf{};
            else
              for (int i = 0; i < W; ++i) dh[t][i] += da[t][i];
          }
        }
      }
      for (int t = 0; t < nt; ++t) {
        const vf* h0 = store.data() + t * slot;
        for (int i = 0; i < W; ++i) {
          vf v = dh[t][i] * (1.0f - h0[i] * h0[i]);
          std::memcpy(du0 + (tb[t] * W + i) * N + tn[t], &v, sizeof(float) * tc[t]);
        }
      }
    }
    double* row = acc + g * nparam;
    for (size_t j = 0; j < nparam; ++j) row[j] = hsum(part[j]);
  }
}

}  // namespace

#define SYN_DISPATCH(CALL)                          \
  switch (W) {                                      \
    case 1: CALL(1); break;                         \
    case 2: CALL(2); break;                         \
    case 3: CALL(3); break;                         \
    case 4: CALL(4); break;                         \
    case 5: CALL(5); break;                         \
    case 6: CALL(6); break;                         \
    case 7: CALL(7); break;                         \
    case 8: CALL(8); break;                         \
    default: return 1;                              \
  }                                                 \
  return 0;

extern "C" {

int syn_points_per_block() { return P; }

int syn_forward(int W, int nb, int S, int C, int64_t B, int64_t N, const float* base, const float* cb,
                const float* bw, const float* bb, const float* ow, const float* ob, const float* zb, float* y,
                int64_t it0, int64_t it1) {
  Net n{nb, S, C, bw, bb, ow, ob, zb};
#define SYN_F(w) forward_items<w>(n, B, N, base, cb, y, it0, it1)
  SYN_DISPATCH(SYN_F)
}

int syn_backward(int W, int nb, int S, int C, int64_t B, int64_t N, const float* base, const float* cb,
                 const float* bw, const float* bb, const float* ow, const float* ob, const float* zb,
                 const float* gy, float* du0, double* dzb, double* acc, int64_t G, int64_t g0, int64_t g1) {
  Net n{nb, S, C, bw, bb, ow, ob, zb};
#define SYN_B(w) backward_groups<w>(n, B, N, base, cb, gy, du0, zb ? dzb : nullptr, acc, G, g0, g1)
  SYN_DISPATCH(SYN_B)
}
}
