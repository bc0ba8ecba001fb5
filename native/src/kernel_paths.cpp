// Which kernel path this CPU runs: CPU features read with cpuid (and xgetbv: the OS must save the wide registers),
// the best path they allow, or the one $SOLILOQUY_KERNELS names.
#include "kernel_paths.h"

#include <cstdlib>
#include <cstring>

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
  // not used by any path: they name the host's class in the bench (an fp16 or AMX path would be chosen by them)
  bool avx512_fp16 = false, amx_tile = false, amx_bf16 = false, amx_int8 = false;
  CpuHost host;
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

#ifdef SOL_X86
// The data and unified caches from a deterministic cache leaf (4 on Intel, 0x8000001D on AMD: the same layout), one
// subleaf per cache until type 0: size = ways × partitions × line × sets. Returns false when the leaf lists none.
bool deterministic_caches(unsigned leaf, CpuHost& h) {
  unsigned r[4];
  bool any = false;
  for (unsigned sub = 0; sub < 16; sub++) {
    cpuid(leaf, sub, r);
    unsigned type = r[0] & 0x1f, level = (r[0] >> 5) & 7;
    if (type == 0) break;
    if (type == 2) continue;  // instruction cache
    int64_t ways = ((r[1] >> 22) & 0x3ff) + 1, parts = ((r[1] >> 12) & 0x3ff) + 1, line = (r[1] & 0xfff) + 1,
            sets = (int64_t)r[2] + 1;
    int64_t bytes = ways * parts * line * sets;
    if (level == 1) h.l1d_bytes = bytes;
    if (level == 2) h.l2_bytes = bytes;
    if (level == 3) h.l3_bytes = bytes;
    any = true;
  }
  return any;
}

// vendor, brand, family / model / stepping and caches (CpuHost)
void detect_host(CpuHost& h) {
  unsigned r[4];
  cpuid(0x80000000, 0, r);
  const unsigned max_ext = r[0] >= 0x80000000 ? r[0] : 0;
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  char v[13];
  std::memcpy(v, &r[1], 4), std::memcpy(v + 4, &r[3], 4), std::memcpy(v + 8, &r[2], 4);
  v[12] = 0;
  h.vendor = v;
  const bool amd = h.vendor == "AuthenticAMD";
  if (max_leaf >= 1) {
    cpuid(1, 0, r);
    // leaf 1 EAX: stepping [3:0], model [7:4], family [11:8], extended model [19:16], extended family [27:20].
    // Both vendors add the extended family when the family is 0xF; Intel folds the extended model in for families 6
    // and 0xF, AMD for 0xF only (Zen's 0x17, 0x19, 0x1A are 0xF + extended family).
    unsigned base_family = (r[0] >> 8) & 0xf, base_model = (r[0] >> 4) & 0xf;
    unsigned ext_family = (r[0] >> 20) & 0xff, ext_model = (r[0] >> 16) & 0xf;
    h.stepping = (int)(r[0] & 0xf);
    h.family = (int)(base_family == 0xf ? base_family + ext_family : base_family);
    bool fold = base_family == 0xf || (!amd && base_family == 6);
    h.model = (int)(fold ? (ext_model << 4) | base_model : base_model);
  }
  if (max_ext >= 0x80000004) {
    char b[49];
    for (unsigned i = 0; i < 3; i++) {
      cpuid(0x80000002 + i, 0, r);
      std::memcpy(b + 16 * i, r, 16);
    }
    b[48] = 0;
    std::string s = b;
    size_t a = s.find_first_not_of(' '), e = s.find_last_not_of(' ');
    h.brand = a == std::string::npos ? "" : s.substr(a, e - a + 1);
  }
  // caches: the deterministic leaf first (AMD's needs the topology extensions, 0x80000001 ECX bit 22), then AMD's
  // legacy leaves 0x80000005 (L1d KiB in ECX[31:24]) and 0x80000006 (L2 KiB in ECX[31:16], L3 in 512 KiB units in
  // EDX[31:18]) for whatever is still unknown
  bool topo = false;
  if (max_ext >= 0x80000001) {
    cpuid(0x80000001, 0, r);
    topo = r[2] & (1u << 22);
  }
  if (amd ? !(topo && max_ext >= 0x8000001D && deterministic_caches(0x8000001D, h))
          : !(max_leaf >= 4 && deterministic_caches(4, h))) {
    if (max_ext >= 0x80000005 && !h.l1d_bytes) {
      cpuid(0x80000005, 0, r);
      h.l1d_bytes = (int64_t)(r[2] >> 24) << 10;
    }
    if (max_ext >= 0x80000006) {
      cpuid(0x80000006, 0, r);
      if (!h.l2_bytes) h.l2_bytes = (int64_t)(r[2] >> 16) << 10;
      if (!h.l3_bytes) h.l3_bytes = (int64_t)(r[3] >> 18) << 19;
    }
  }
}
#endif

Cpu detect() {
  Cpu c;
#ifdef SOL_X86
  detect_host(c.host);
  unsigned r[4];
  cpuid(0, 0, r);
  unsigned max_leaf = r[0];
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
    // EDX: AVX512-FP16 bit 23; AMX-BF16 22, AMX-TILE 24, AMX-INT8 25. The tiles also need the OS to save their state
    // (XCR0 bits 17 XTILECFG and 18 XTILEDATA); Linux further wants each process to ask (arch_prctl) before using them.
    unsigned edx = r[3];
    bool os_tiles = (xcr0 & (3ull << 17)) == (3ull << 17);
    c.avx512_fp16 = c.avx512f && (edx & (1u << 23));
    c.amx_tile = os_tiles && (edx & (1u << 24));
    c.amx_bf16 = c.amx_tile && (edx & (1u << 22));
    c.amx_int8 = c.amx_tile && (edx & (1u << 25));
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
    {"zen", false, 1536, 0},
    {"intel", true, 3072, 512},
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
  const KernelTuning* t = tuning_named(name.empty() ? (cpu().host.vendor == "GenuineIntel" ? "intel" : "zen") : name);
  if (!t) {
    std::string why = "no such tuning (tunings: ";
    std::vector<std::string> all = kernel_tunings();
    for (size_t i = 0; i < all.size(); i++) why += (i ? ", " : "") + all[i];
    return why + ")";
  }
  g_tuning = t;
  return "";
}

namespace {
// $SOLILOQUY_TUNING when it names a tuning, else the CPU's own; returns "" or why the variable was refused
std::string tunings_init() {
  const char* env = std::getenv("SOLILOQUY_TUNING");
  const std::string why = env && *env ? kernel_tuning_set(env) : "";
  if (!why.empty() || !g_tuning) kernel_tuning_set("");
  return why;
}
}  // namespace

const KernelTuning& kernel_tuning() {
  // first use before kernels_init (which reports an unknown name at load): the CPU's own then
  if (!g_tuning) tunings_init();
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
  if (c.avx512_fp16) f.push_back("avx512_fp16");
  if (c.amx_tile) f.push_back("amx_tile");
  if (c.amx_bf16) f.push_back("amx_bf16");
  if (c.amx_int8) f.push_back("amx_int8");
  if (c.neon) f.push_back("neon");
  return f;
}

const CpuHost& cpu_host() { return cpu().host; }

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
  why = tunings_init();
  if (!why.empty()) return std::string("SOLILOQUY_TUNING=") + std::getenv("SOLILOQUY_TUNING") + ": " + why;
  return "";
}
