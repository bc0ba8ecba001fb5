// The mixture-of-experts block (experts.cpp): the router and the experts of a MoE layer, forward and backward.
#pragma once
#include <string>
#include <vector>

#include "model.h"

// The R·K (row, choice) pairs of a MoE layer grouped by expert (experts in order, each expert's rows in order):
// expert e's pairs are at[e] … at[e+1]−1 of the gathered rows below. Kept by the phrase's forward for its backward.
struct MoeRouted {
  std::vector<int> at;               // [E + 1]
  std::vector<int> rows, ks;         // [R·K] the pair's row, and which of its K choices it is
  std::vector<float> x;              // [R·K, D]  the pairs' input rows
  std::vector<float> g, u, mm;       // [R·K, Fe] gate, up, silu(gate)·up
  std::vector<float> y;              // [R·K, D]  the expert's output, before its combination weight
};

struct MoeActs {
  int R = 0;
  std::vector<float> logits, probs;  // [R, E] router logits and softmax
  std::vector<int> sel;              // [R, K] chosen experts, most probable first
  std::vector<float> w;              // [R, K] their combination weights
  MoeRouted routed;
};

// The router's choice from its logits [R, E]: sel, w [R, K], probs [R, E]
void moe_route(const Config& c, const float* logits, int R, int* sel, float* w, float* probs);
// out[R, D] = the MoE block of layer l on x[R, D] under each row's view; keep = activations for moe_backward (null
// in inference: nothing is kept)
void moe_forward(const Model& m, int l, float* out, const float* x, int R, const std::vector<View>& views,
                 const int* row_view, MoeActs* keep);
// dx[R, D] += ∂L/∂x from dout = ∂L/∂out; writes the factors of layer l's router and experts into s (a's gathered
// activations are freed once read)
void moe_backward(const Model& m, int l, float* dx, const float* dout, const float* x, MoeActs& a, const View& view,
                  Step& s);
// the HF name (without ".weight") of the j-th extra slot of a MoE layer: "mlp.gate", "mlp.experts.3.up_proj"
std::string moe_tensor_name(int slot_in_layer);
