{
  # No -march=native: what ships must run on any x86-64 (or arm64) CPU. The hot kernels (src/kernels_isa.inc) are
  # compiled once per instruction set — the baseline into the addon itself, AVX2 and AVX-512 as static libraries
  # with their own flags — and src/kernel_paths.cpp picks one at load from cpuid (SOLILOQUY_KERNELS forces one).
  "variables": {
    "sol_cflags": ["-std=c++17", "-O3", "-fPIC", "-fexceptions", "-pthread", "-Wall", "-Wno-unused-function", "-Wno-maybe-uninitialized"]
  },
  "targets": [
    {
      "target_name": "soliloquy_engine",
      "sources": [
        "src/threads.cpp",
        "src/loader.cpp",
        "src/kernel_paths.cpp",
        "src/roofline.cpp",
        "src/product_bench.cpp",
        "src/kernels_scalar.cpp",
        "src/kernels.cpp",
        "src/quants.cpp",
        "src/quants_iq.cpp",
        "src/quantise.cpp",
        "src/factors.cpp",
        "src/step_memory.cpp",
        "src/model.cpp",
        "src/head.cpp",
        "src/experts.cpp",
        "src/infer.cpp",
        "src/materialise.cpp",
        "src/binding.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["<@(sol_cflags)"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["kernels_avx2", "kernels_avx512"] }],
        ["target_arch=='arm64'", { "sources": ["src/kernels_neon.cpp"] }]
      ],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/O2", "/std:c++17"] }
      }
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "kernels_avx2",
          "type": "static_library",
          "sources": ["src/kernels_avx2.cpp"],
          "cflags_cc": ["<@(sol_cflags)", "-mavx2", "-mfma", "-mf16c"],
          "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx2", "-mfma", "-mf16c"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/O2", "/std:c++17", "/arch:AVX2"] } }
        },
        {
          "target_name": "kernels_avx512",
          "type": "static_library",
          "sources": ["src/kernels_avx512.cpp"],
          "cflags_cc": ["<@(sol_cflags)", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-Wno-uninitialized"],
          "xcode_settings": { "CLANG_CXX_LANGUAGE_STANDARD": "c++17", "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl"] },
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/O2", "/std:c++17", "/arch:AVX512"] } }
        }
      ]
    }]
  ]
}
