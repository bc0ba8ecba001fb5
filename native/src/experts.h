// The mixture-of-experts block (experts.cpp): the router and the experts of a MoE layer, forward and backward.
#pragma once
#include <string>
#include <vector>

#include "model.h"

// One expert on the rows routed to it (kept by the phrase's forward for its backward)
struct MoeExpertActs {
  std::vector<int> rows, ks;         // [n] the rows routed here, and which of their K choices this is
  std::vector<float> x;              // [n, D]  their input rows
  std::vector<float> g, u, mm;       // [n, Fe] gate, up, silu(gate)·up
  std::vector<float> y;              // [n, D]  the expert's output, before its combination weight
};

struct MoeActs {
  int R = 0;
  std::vector<float> logits, probs;  // [R, E] router logits and softmax
  std::vector<int> sel;              // [R, K] chosen experts, most probable first
  std::vector<float> w;              // [R, K] their combination weights
  std::vector<MoeExpertActs> experts;  // [E]
};

// The router's choice from its logits [R, E]: sel, w [R, K], probs [R, E]
void moe_route(const Config& c, const float* logits, int R, int* sel, float* w, float* probs);
// out[R, D] = the MoE block of layer l on x[R, D] under each row's view; keep = activations for moe_backward (null
// in inference: nothing is kept)
void moe_forward(const Model& m, int l, float* out, const float* x, int R, const std::vector<View>& views,
                 const int* row_view, MoeActs* keep);
// dx[R, D] += ∂L/∂x from dout = ∂L/∂out; writes the factors of layer l's router and experts into s
void moe_backward(const Model& m, int l, float* dx, const float* dout, const float* x, const MoeActs& a,
                  const View& view, Step& s);
// the HF name (without ".weight") of the j-th extra slot of a MoE layer: "mlp.gate", "mlp.experts.3.up_proj"
std::string moe_tensor_name(int slot_in_layer);
