// Which kernel path this CPU runs: CPU features read with cpuid (and xgetbv: the OS must save the wide registers),
// the best path they allow, or the one $SOLILOQUY_KERNELS names.
#include "kernel_paths.h"

#include <cstdlib>

#if defined(__x86_64__) || defined(_M_X64)
#define SOL_X86 1
#ifdef _MSC_VER
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

const KernelTable* g_kernels = nullptr;

namespace {

struct Cpu {
  bool avx2 = false, fma = false, f16c = false, avx512f = false, avx512bw = false, avx512vl = false,
       avx512_bf16 = false, avx512_vnni = false, neon = false;
  bool intel = false;  // cpuid vendor "GenuineIntel"
};

#ifdef SOL_X86
void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#ifdef _MSC_VER
  int v[4];
  __cpuidex(v, (int)leaf, (int)sub);
  for (int i = 0; i < 4; i++) r[i] = (unsigned)v[i];
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}
unsigned long long xgetbv0() {
#ifdef _MSC_VER
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((unsigned long long)hi << 32) | lo;
#endif
}
#endif

Cpu detect() {
  Cpu c;
#ifdef SOL_X86
  unsigned r[4];
  cpuid(0, 0, r);
  unsigned max_leaf = r[0];
  c.intel = r[1] == 0x756e6547 && r[3] == 0x49656e69 && r[2] == 0x6c65746e;  // "Genu" "ineI" "ntel"
  cpuid(1, 0, r);
  bool osxsave = r[2] & (1u << 27), avx = r[2] & (1u << 28);
  c.fma = r[2] & (1u << 12);
  c.f16c = r[2] & (1u << 29);
  unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
  bool os_ymm = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
  bool os_zmm = (xcr0 & 0xE6) == 0xE6;   // + opmask, upper ZMM, ZMM16-31
  if (!(avx && os_ymm)) c.fma = c.f16c = false;
  if (max_leaf >= 7) {
    cpuid(7, 0, r);
    unsigned ebx = r[1], ecx = r[2], max_sub = r[0];
    c.avx2 = avx && os_ymm && (ebx & (1u << 5));
    c.avx512f = os_zmm && (ebx & (1u << 16));
    c.avx512bw = c.avx512f && (ebx & (1u << 30));
    c.avx512vl = c.avx512f && (ebx & (1u << 31));
    c.avx512_vnni = c.avx512f && (ecx & (1u << 11));
    if (max_sub >= 1) {
      cpuid(7, 1, r);
      c.avx512_bf16 = c.avx512f && (r[0] & (1u << 5));
    }
  }
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
  c.neon = true;  // part of the arm64 baseline
#endif
  return c;
}

const Cpu& cpu() {
  static const Cpu c = detect();
  return c;
}

// the table for a path name if this CPU can run it, else null (and why in *why)
const KernelTable* table_for(const std::string& name, std::string* why) {
  const Cpu& c = cpu();
  (void)c;
  if (name == "scalar") return kernel_table_scalar();
#ifdef SOL_X86
  if (name == "avx2") {
    if (c.avx2 && c.fma && c.f16c) return kernel_table_avx2();
    *why = "this CPU lacks AVX2/FMA/F16C";
    return nullptr;
  }
  if (name == "avx512") {
    if (c.avx2 && c.fma && c.f16c && c.avx512f && c.avx512bw && c.avx512vl) return kernel_table_avx512();
    *why = "this CPU lacks AVX-512 F/BW/VL";
    return nullptr;
  }
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
  if (name == "neon") return kernel_table_neon();
#endif
  *why = "no such kernel path in this build (paths: ";
  std::vector<std::string> av = kernel_paths_available();
  for (size_t i = 0; i < av.size(); i++) *why += (i ? ", " : "") + av[i];
  *why += ")";
  return nullptr;
}

const KernelTuning TUNINGS[] = {
    {"zen", false, 1536},
    {"intel", true, 3072},
};
const KernelTuning* g_tuning = nullptr;

const KernelTuning* tuning_named(const std::string& name) {
  for (const KernelTuning& t : TUNINGS)
    if (name == t.name) return &t;
  return nullptr;
}

}  // namespace

std::vector<std::string> kernel_tunings() {
  std::vector<std::string> out;
  for (const KernelTuning& t : TUNINGS) out.push_back(t.name);
  return out;
}

std::string kernel_tuning_set(const std::string& name) {
  const KernelTuning* t = tuning_named(name.empty() ? (cpu().intel ? "intel" : "zen") : name);
  if (!t) {
    std::string why = "no such tuning (tunings: ";
    std::vector<std::string> all = kernel_tunings();
    for (size_t i = 0; i < all.size(); i++) why += (i ? ", " : "") + all[i];
    return why + ")";
  }
  g_tuning = t;
  return "";
}

const KernelTuning& kernel_tuning() {
  if (!g_tuning) {
    const char* env = std::getenv("SOLILOQUY_TUNING");
    // an unknown name leaves the CPU's own (kernels_init reports it with the path's refusal, if any)
    if (!env || !kernel_tuning_set(env).empty()) kernel_tuning_set("");
  }
  return *g_tuning;
}

std::vector<std::string> kernel_paths_available() {
  std::vector<std::string> out = {"scalar"};
  const Cpu& c = cpu();
  (void)c;
#ifdef SOL_X86
  if (c.avx2 && c.fma && c.f16c) out.push_back("avx2");
  if (c.avx2 && c.fma && c.f16c && c.avx512f && c.avx512bw && c.avx512vl) out.push_back("avx512");
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
  out.push_back("neon");
#endif
  return out;
}

std::vector<std::string> cpu_features() {
  const Cpu& c = cpu();
  std::vector<std::string> f;
#ifdef SOL_X86
  f.push_back("sse2");
#endif
  if (c.avx2) f.push_back("avx2");
  if (c.fma) f.push_back("fma");
  if (c.f16c) f.push_back("f16c");
  if (c.avx512f) f.push_back("avx512f");
  if (c.avx512bw) f.push_back("avx512bw");
  if (c.avx512vl) f.push_back("avx512vl");
  if (c.avx512_vnni) f.push_back("avx512_vnni");
  if (c.avx512_bf16) f.push_back("avx512_bf16");
  if (c.neon) f.push_back("neon");
  return f;
}

std::string kernels_set(const std::string& name) {
  std::string why;
  const KernelTable* t = table_for(name.empty() ? kernel_paths_available().back() : name, &why);
  if (!t) return why;
  g_kernels = t;
  return "";
}

std::string kernels_init() {
  const char* env = std::getenv("SOLILOQUY_KERNELS");
  std::string want = env ? env : "";
  std::string why = kernels_set(want);
  if (!why.empty()) {
    g_kernels = kernel_table_scalar();
    return "SOLILOQUY_KERNELS=" + want + ": " + why;
  }
  const char* tuning = std::getenv("SOLILOQUY_TUNING");
  if (tuning && *tuning) {
    why = kernel_tuning_set(tuning);
    if (!why.empty()) return std::string("SOLILOQUY_TUNING=") + tuning + ": " + why;
  }
  return "";
}
