{
  "targets": [
    {
      "target_name": "soliloquy_engine",
      "sources": [
        "src/threads.cpp",
        "src/loader.cpp",
        "src/kernels.cpp",
        "src/quants.cpp",
        "src/factors.cpp",
        "src/model.cpp",
        "src/infer.cpp",
        "src/materialise.cpp",
        "src/binding.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fexceptions", "-pthread", "-Wall", "-Wno-unused-function", "-Wno-maybe-uninitialized"],
      "ldflags": ["-pthread"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "OTHER_CPLUSPLUSFLAGS": ["-O3", "-mcpu=native"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/O2", "/arch:AVX2", "/std:c++17"] }
      }
    }
  ]
}
