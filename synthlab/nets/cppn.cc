// The plain CPPN (synthlab.nets.cppn.CPPN) fused per point, forward only, for the CPU.
//
// torch runs a CPPN layer by layer over (width, B*N) tensors: each narrow layer reads and
// writes memory, and each activation is a pass of its own. Here SYN_P points at a time (one
// GCC vector) go through the input layer, every hidden layer and the output with their values
// in a small local buffer, so the only memory traffic is the coordinates in and the colours
// out. Any depth, any widths (halving included) up to MAXW, and the activations of the
// network/activation group, each by its code (fused.py's ACTIVATIONS). Every point is
// computed alone, so tiles, batches and thread counts give the same bits. Renders only: the
// torch path (cppn.py) runs wherever a gradient is needed, and is the reference.
#include "vmath.h"

namespace {

using namespace syn;

constexpr int MAXW = 256;

enum Act { IDENTITY, TANH, SIGMOID, RELU, LRELU, ELU, SOFTPLUS, SIN, GELU, GELU_TANH };

inline void activate(int code, float pa, float pb, vf* h, int n) {
  switch (code) {
    case TANH: for (int i = 0; i < n; ++i) h[i] = vtanh<true>(h[i]); break;
    case SIGMOID: for (int i = 0; i < n; ++i) h[i] = vsigmoid(h[i]); break;
    case RELU: for (int i = 0; i < n; ++i) h[i] = vmax0(h[i]); break;
    case LRELU: for (int i = 0; i < n; ++i) h[i] = h[i] > 0.0f ? h[i] : h[i] * pa; break;
    case ELU: for (int i = 0; i < n; ++i) h[i] = velu(h[i], pa); break;
    case SOFTPLUS: for (int i = 0; i < n; ++i) h[i] = vsoftplus(h[i], pa, pb); break;
    case SIN: for (int i = 0; i < n; ++i) h[i] = vsin(h[i] * pa); break;
    case GELU: for (int i = 0; i < n; ++i) h[i] = vgelu(h[i]); break;
    case GELU_TANH: for (int i = 0; i < n; ++i) h[i] = vgelu_tanh(h[i]); break;
    default: break;
  }
}

// out = w in + b for one point block; eight outputs at a time share each input's load and
// keep eight independent FMA chains in flight. Each output sums its inputs in order.
inline void dense(const float* w, const float* b, int wi, int wo, const vf* in, vf* out) {
  int o = 0;
  for (; o + 8 <= wo; o += 8) {
    const float* r = w + (size_t)o * wi;
    vf a0 = splat(b[o]), a1 = splat(b[o + 1]), a2 = splat(b[o + 2]), a3 = splat(b[o + 3]);
    vf a4 = splat(b[o + 4]), a5 = splat(b[o + 5]), a6 = splat(b[o + 6]), a7 = splat(b[o + 7]);
    for (int i = 0; i < wi; ++i) {
      const vf x = in[i];
      a0 += r[i] * x, a1 += r[wi + i] * x, a2 += r[2 * wi + i] * x, a3 += r[3 * wi + i] * x;
      a4 += r[4 * wi + i] * x, a5 += r[5 * wi + i] * x, a6 += r[6 * wi + i] * x, a7 += r[7 * wi + i] * x;
    }
    out[o] = a0, out[o + 1] = a1, out[o + 2] = a2, out[o + 3] = a3;
    out[o + 4] = a4, out[o + 5] = a5, out[o + 6] = a6, out[o + 7] = a7;
  }
  for (; o < wo; ++o) {
    const float* r = w + (size_t)o * wi;
    vf a = splat(b[o]);
    for (int i = 0; i < wi; ++i) a += r[i] * in[i];
    out[o] = a;
  }
}

}  // namespace

extern "C" {

int syn_cppn_max_width() { return MAXW; }
int syn_cppn_points_per_block() { return P; }

// L layers after the input layer; widths[0] is the input layer's, widths[l] layer l's output
// (widths[L] the channels). a: the input layer's coordinate weights (widths[0], in_dim); cb:
// its per-image part, FC(z) and the bias, (B, widths[0]). w, b: layers 1..L packed row-major
// ((widths[l], widths[l-1]) and widths[l], zeros where a layer has no bias). acts, pa, pb:
// the activation after the input layer and after each layer, with its parameters.
// pts (in_dim, N) -> y (B, widths[L], N), over work items [it0, it1) of one point block each.
int syn_cppn_forward(int L, const int* widths, int in_dim, int64_t B, int64_t N, const float* pts,
                     const float* a, const float* cb, const float* w, const float* b, const int* acts,
                     const float* pa, const float* pb, float* y, int64_t it0, int64_t it1) {
  for (int l = 0; l <= L; ++l)
    if (widths[l] < 1 || widths[l] > MAXW) return 1;
  if (in_dim < 1 || in_dim > 8) return 1;
  const int C = widths[L];
  const int64_t nblk = (N + P - 1) / P;
  vf h[MAXW], g[MAXW], p[8];
  for (int64_t it = it0; it < it1; ++it) {
    const int64_t bi = it / nblk, n0 = (it % nblk) * P;
    const int cnt = (int)(N - n0 < P ? N - n0 : P);
    for (int k = 0; k < in_dim; ++k) {
      p[k] = vf{};
      std::memcpy(&p[k], pts + k * N + n0, sizeof(float) * cnt);
    }
    for (int i = 0; i < widths[0]; ++i) {
      vf u = a[i * in_dim] * p[0];
      for (int k = 1; k < in_dim; ++k) u += a[i * in_dim + k] * p[k];
      h[i] = u + cb[bi * widths[0] + i];
    }
    activate(acts[0], pa[0], pb[0], h, widths[0]);
    const float *wl = w, *bl = b;
    vf *cur = h, *nxt = g;
    for (int l = 1; l <= L; ++l) {
      dense(wl, bl, widths[l - 1], widths[l], cur, nxt);
      activate(acts[l], pa[l], pb[l], nxt, widths[l]);
      wl += (size_t)widths[l] * widths[l - 1], bl += widths[l];
      vf* t = cur;
      cur = nxt, nxt = t;
    }
    for (int c = 0; c < C; ++c) std::memcpy(y + (bi * C + c) * N + n0, &cur[c], sizeof(float) * cnt);
  }
  return 0;
}
}
