// In-run measurements of the machine's limits for the benchmark's roofline (roofline.cpp).
#pragma once

// GB/s (10⁹ bytes) read by `threads` threads streaming a `gib`-GiB buffer, best of `passes`
double measure_bandwidth_gbs(double gib, int threads, int passes);
// fp32 GFLOP/s (FMA = 2) of `threads` threads running independent FMA chains on the active kernel path
double measure_flops_gflops(int threads);
