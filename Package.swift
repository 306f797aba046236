// swift-tools-version:6.0
//
// Herald: a WebSocket push gateway on io_uring.
//
// Layers point down (see Docs/ARCHITECTURE.md):
//   herald (executable)      — flag parsing, signal wiring; no logic worth testing
//   HeraldEngine             — shards, connections, admin listener (imports HeraldIO, never CURing)
//   HeraldIO                 — the only module that imports the liburing shim (rings, sockets, errno)
//   HeraldCore               — pure: slab, timing wheel, configuration, counters
//   HeraldProtocol           — pure: RFC 6455 frames, HTTP head parsing, handshake, UTF-8, JSON
import PackageDescription

let package = Package(
    name: "Herald",
    products: [
        .executable(name: "herald", targets: ["herald"]),
    ],
    targets: [
        .systemLibrary(
            name: "CURing",
            path: "Sources/CURing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        .target(name: "HeraldProtocol"),
        .target(name: "HeraldCore"),
        .target(name: "HeraldIO", dependencies: ["CURing"]),
        .target(name: "HeraldEngine", dependencies: ["HeraldIO", "HeraldCore", "HeraldProtocol"]),
        .executableTarget(name: "herald", dependencies: ["HeraldEngine", "HeraldCore"]),
        .testTarget(name: "HeraldProtocolTests", dependencies: ["HeraldProtocol"]),
        .testTarget(name: "HeraldCoreTests", dependencies: ["HeraldCore"]),
    ]
)
