// swift-tools-version:6.0
//
// HeraldClient: the Swift client for apps (iOS, macOS, Linux). A package of
// its own so an app never pulls the server's C libraries (liburing, zlib,
// hiredis). WebSocket transport: hummingbird's swift-websocket (WSClient,
// SwiftNIO), because Foundation's URLSessionWebSocketTask does not work on
// Linux (Debian's libcurl has no WebSocket support) — see README.md.
import PackageDescription

let package = Package(
    name: "HeraldClient",
    platforms: [.macOS(.v13), .iOS(.v16), .tvOS(.v16)],
    products: [
        .library(name: "HeraldClient", targets: ["HeraldClient"]),
        // herald.zstd.v1 with the system's libzstd (apt: libzstd-dev; brew:
        // zstd). Opt-in, so HeraldClient alone links no C library.
        .library(name: "HeraldClientZstd", targets: ["HeraldClientZstd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        .target(name: "HeraldClient", dependencies: [
            .product(name: "WSClient", package: "swift-websocket"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        .systemLibrary(name: "CLibzstd", pkgConfig: "libzstd",
                       providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]),
        .target(name: "HeraldClientZstd", dependencies: ["HeraldClient", "CLibzstd"]),
        // A small program the end-to-end tests drive (Tests/e2e/test_swift_client.py):
        // it prints every event of a HeraldClient as one JSON line.
        .executableTarget(name: "herald-swift-probe", dependencies: ["HeraldClient", "HeraldClientZstd"]),
        .testTarget(name: "HeraldClientTests", dependencies: ["HeraldClient", "HeraldClientZstd", "CLibzstd"]),
    ]
)
