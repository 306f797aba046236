// swift-tools-version:6.0
//
// Herald: a WebSocket push gateway on io_uring.
//
// Layers point down (see Docs/ARCHITECTURE.md):
//   herald (executable)      — flag parsing, signal wiring; no logic worth testing
//   HeraldEngine             — shards, connections, admin listener (imports HeraldIO, never CURing)
//   HeraldIO                 — the one module that talks to the kernel: rings, sockets, errno,
//                              threads, signals, clocks, stderr, send batches (msghdr/iovec)
//   HeraldCompression        — permessage-deflate over zlib, herald.zstd.v1 over libzstd (the only module that
//                              imports CZlib and CZstd)
//   HeraldRedis              — Redis connections over hiredis (the only module that imports CHiredis)
//   HeraldTLS                — TLS sessions over memory BIOs with OpenSSL (the only module that imports COpenSSL)
//   HeraldCore               — pure: slab, timing wheel, configuration, counters
//   HeraldProtocol           — pure: RFC 6455 frames, HTTP head parsing, handshake, UTF-8, JSON (its digests:
//                              libcrypto through CCrypto, no kernel)
//   LoadGenKit, herald-loadgen (LoadGen/) — the load generator: HeraldIO + HeraldProtocol (+ HeraldTLS for
//                              wss://), not the engine
import PackageDescription

// Release builds of the server's own modules skip Swift's dynamic
// exclusivity checks (a measured decision, ../shared/NOTES.md): in a
// connection ramp the checks (`swift_beginAccess`, `AccessSet::insert` and
// the thread-local lookups they make) were ~3.7 % of herald's CPU samples,
// paid on class property accesses all over the reactor; a 15,000-connection
// ramp at 10,000/s took 59.3–61.3 µs of server CPU per connection without
// them against 64.0 µs with (3 alternating pairs, issue 12). Debug builds
// — `swift test`, where the engine's tests run — keep them, so an
// overlapping access still traps there.
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "Herald",
    products: [
        .executable(name: "herald", targets: ["herald"]),
        .executable(name: "herald-loadgen", targets: ["herald-loadgen"]),
    ],
    dependencies: [
        // Only the load generator uses it (latency percentiles); the server's
        // dependency tree stays empty.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CURing",
            path: "Sources/CURing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CHiredis", path: "Sources/CHiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", providers: [.apt(["libssl-dev"])]),
        .target(name: "HeraldProtocol", dependencies: ["CCrypto"], swiftSettings: hotPathSettings),
        .target(name: "HeraldCompression", dependencies: ["CZlib", "CZstd"]),
        .target(name: "HeraldCore", swiftSettings: hotPathSettings),
        .target(name: "HeraldIO", dependencies: ["CURing"], swiftSettings: hotPathSettings),
        .target(name: "HeraldRedis", dependencies: ["CHiredis"]),
        .target(name: "HeraldTLS", dependencies: ["COpenSSL"]),
        .target(name: "HeraldEngine",
                dependencies: ["HeraldIO", "HeraldCore", "HeraldProtocol", "HeraldCompression", "HeraldRedis",
                               "HeraldTLS"],
                swiftSettings: hotPathSettings),
        .executableTarget(name: "herald", dependencies: ["HeraldEngine", "HeraldCore", "HeraldIO"]),
        .target(
            name: "LoadGenKit",
            dependencies: ["HeraldIO", "HeraldProtocol", "HeraldTLS", "HeraldCompression",
                           .product(name: "Histogram", package: "hdrhistogram-swift")],
            path: "LoadGen/Sources/LoadGenKit"
        ),
        .executableTarget(name: "herald-loadgen", dependencies: ["LoadGenKit"], path: "LoadGen/Sources/herald-loadgen"),
        .testTarget(name: "LoadGenKitTests", dependencies: ["LoadGenKit"], path: "LoadGen/Tests/LoadGenKitTests"),
        .testTarget(name: "HeraldProtocolTests", dependencies: ["HeraldProtocol"]),
        .testTarget(name: "HeraldCoreTests", dependencies: ["HeraldCore"]),
        .testTarget(name: "HeraldIOTests", dependencies: ["HeraldIO", "CURing"]),
        .testTarget(name: "HeraldCompressionTests", dependencies: ["HeraldCompression"]),
        .testTarget(name: "HeraldTLSTests", dependencies: ["HeraldTLS", "COpenSSL"]),
        .testTarget(name: "HeraldEngineTests", dependencies: ["HeraldEngine", "HeraldCore", "HeraldProtocol", "HeraldRedis", "HeraldIO"]),
    ]
)
