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
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .target(name: "HeraldClient", dependencies: [
            .product(name: "WSClient", package: "swift-websocket"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
        // A small program the end-to-end tests drive (Tests/e2e/test_swift_client.py):
        // it prints every event of a HeraldClient as one JSON line.
        .executableTarget(name: "herald-swift-probe", dependencies: ["HeraldClient"]),
        .testTarget(name: "HeraldClientTests", dependencies: ["HeraldClient"]),
    ]
)
