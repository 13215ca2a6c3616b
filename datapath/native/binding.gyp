{
  "targets": [
    {
      "target_name": "vhostnet_datapath",
      "sources": [
        "src/addon.cpp",
        "src/bindings/bridge.cpp",
        "src/bindings/datapath.cpp",
        "src/bindings/port.cpp",
        "src/config.cpp",
        "src/control.cpp",
        "src/eal.cpp",
        "src/fdb.cpp",
        "src/offload.cpp",
        "src/pmd.cpp",
        "src/ports/ethdev.cpp",
        "src/ports/port.cpp",
        "src/ports/tunnel.cpp",
        "src/ports/vhost.cpp",
        "src/util/args.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions", "-O2", "-O0"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20", "-O2", "-O0"],
      "cflags": ["-O3", "<!@(pkg-config --cflags libdpdk)"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-Wno-missing-field-initializers", "<!@(pkg-config --cflags libdpdk)"],
      "libraries": ["<!@(pkg-config --libs libdpdk)", "-lrte_bus_vdev"]
    }
  ]
}
