import HeraldIO

/// The browser client's zstd decoder, served at `/herald-zstd.wasm`: a
/// WebAssembly build of libzstd's decompressor that the project's build
/// makes from Debian's packages (Clients/js/zstd/build-wasm.sh, next to the
/// herald executable). Read once at start; every request gets the same
/// bytes.
enum ZstdDecoderFile {
    /// The file name next to the executable that is served when
    /// `--zstd-decoder` is not given.
    static let defaultName = "herald-zstd.wasm"
    /// The decoder is ~60 KB; a file many times that is not it.
    static let bytesMax = 4 << 20

    /// `--zstd-decoder FILE` must be a readable WebAssembly module of at
    /// most `bytesMax` (else herald does not start); without it, the one
    /// next to the executable is served when it is there and valid, and
    /// otherwise `/herald-zstd.wasm` is a 404 (the client then keeps
    /// permessage-deflate) — said once in the log.
    static func load(configured: String?) throws -> [UInt8]? {
        if let path = configured {
            guard let bytes = ProcessEnvironment.readBytes(path, bytesMax: bytesMax) else {
                throw Engine.StartError(description: "cannot read --zstd-decoder '\(path)' (or it is over \(bytesMax) bytes)")
            }
            guard isWebAssembly(bytes) else {
                throw Engine.StartError(description: "--zstd-decoder '\(path)' is not a WebAssembly module")
            }
            return bytes
        }
        guard let directory = ProcessEnvironment.executableDirectory() else { return nil }
        let path = directory + "/" + defaultName
        guard let bytes = ProcessEnvironment.readBytes(path, bytesMax: bytesMax), isWebAssembly(bytes) else {
            Log.info("no zstd decoder for browsers; /herald-zstd.wasm answers 404 and browsers keep deflate",
                     ["looked-for": path])
            return nil
        }
        return bytes
    }

    /// The module header: `\0asm` and version 1.
    static func isWebAssembly(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: [0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00])
    }
}
