// Timing of the weight products alone, for the benchmark's kernel table (tools/bench/productBench.ts): the forward
// y = x·Wᵀ (matmul_wt) and the backward dx += dy·W (matmul_w_acc) of one stored matrix at R input rows, on the
// active kernel path and thread pool. Not used by the engine.
#pragma once
#include "dtype.h"

struct ProductTimes {
  double forward_s;   // best of the repeats
  double backward_s;  // best of the repeats
};
// random weights [rows, cols] of type t (F32/F16/BF16) on 2 MiB pages where the system allows it, as the loader keeps
// them (the last matrix is kept for the next call of the same shape); each product timed `reps` times after one
// warm-up call; when `cold`, each call after a pass over a buffer larger than the caches (as in a step, where the
// whole model streams between a matrix's forward and its backward), otherwise with what the last call left cached
ProductTimes time_products(DType t, int rows, int cols, int R, int reps, bool cold);
