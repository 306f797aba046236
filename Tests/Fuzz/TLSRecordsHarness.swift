// libFuzzer harness for herald's TLS 1.3 record layer (Sources/HeraldTLS),
// built as its own binary with HeraldTLS's sources and OpenSSL
// (Tests/Fuzz/fuzz.sh, target `tls-records`): the layer parses what a
// hostile client sends after the handshake, with unsafe buffers of its own.
//
// The input becomes a byte stream in one of two ways — raw bytes (headers,
// lengths and garbage of any shape), or records sealed here with the
// client's keys from [type][length][content] items (so inner plaintexts,
// padding, alerts, KeyUpdates and handshake fragments reach every branch
// past the tag check) — cut into chunks of a fuzzed size, fed to a layer,
// with its output sealed between chunks. ASan/LSan catch memory errors and
// leaks; a broken bound traps.

import COpenSSL

private let suite = TLS13Suite.aes128GCMSHA256
private let clientSecret = [UInt8](repeating: 0x11, count: 32)
private let serverSecret = [UInt8](repeating: 0x22, count: 32)
/// A low limit, so herald's own KeyUpdates happen too.
private let crypto = RecordCrypto(writeRecordsPerKeyMax: 3)

/// Records sealed with the client's keys, as a peer holding them would send.
private func forge(_ input: UnsafeRawBufferPointer, padding: Bool) -> [UInt8] {
    var keys = TrafficKeys(secret: clientSecret, suite: suite)
    var wire: [UInt8] = []
    var at = 0
    while at + 2 <= input.count {
        let type = input[at]
        let length = Int(input[at + 1])
        at += 2
        let content = Array(input[at..<min(input.count, at + length)])
        at += content.count
        var inner = content + [type]
        if padding { inner += [0, 0, 0] }
        var record = [UInt8](repeating: 0, count: TLSRecord.headerBytes + inner.count + RecordCrypto.tagBytes)
        record.withUnsafeMutableBytes { buffer in
            TLSRecord.writeHeader(buffer, length: inner.count + RecordCrypto.tagBytes)
            UnsafeMutableRawBufferPointer(rebasing: buffer[TLSRecord.headerBytes..<TLSRecord.headerBytes + inner.count])
                .copyBytes(from: inner)
            crypto.seal(buffer, keys: keys, suite: suite)
        }
        keys.sequence += 1
        wire += record
        // A whole KeyUpdate: the peer's next records use its next key.
        if type == TLSRecord.ContentType.handshake.rawValue, content.count == 5, content[0] == 24,
           content[1] == 0, content[2] == 0, content[3] == 1 {
            keys.update(suite: suite)
        }
    }
    return wire
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard input.count >= 2 else { return 0 }
    let step = Int(input[0] % 61) + 1
    let mode = input[1]
    let body = UnsafeRawBufferPointer(rebasing: input[2...])
    let wire = mode & 1 == 1 ? Array(body) : forge(body, padding: mode & 2 != 0)
    var layer = TLSRecordLayer(suite: suite, clientSecret: clientSecret, serverSecret: serverSecret,
                               serverRecordsSent: UInt64(mode >> 4), unsentOutput: mode & 4 != 0 ? [1, 2, 3] : [])
    var offset = 0
    var ended = false
    while offset < wire.count && !ended {
        var chunk = Array(wire[offset..<min(wire.count, offset + step)])
        offset += chunk.count
        let outcome = chunk.withUnsafeMutableBytes { bytes in
            layer.receive(bytes, crypto: crypto) { plaintext in
                precondition(plaintext.count <= TLSRecord.plaintextBytesMax, "more than 2^14 bytes of content")
                return true
            }
        }
        if outcome != .progress { ended = true }
        precondition(layer.bufferedBytes <= TLSRecord.headerBytes + TLSRecord.ciphertextBytesMax,
                     "a piece buffer past the largest record")
        if mode & 8 != 0 || ended {
            // What the layer would send now: data unless it may not, then any KeyUpdate, alert or close_notify.
            let plaintext = layer.sealsData ? 100 : 0
            let size = layer.sealedBytes(plaintextBytes: plaintext, crypto: crypto)
            var out = [UInt8](repeating: 0, count: size)
            if size > 0 {
                out.withUnsafeMutableBytes { output in
                    layer.seal(plaintextBytes: plaintext, into: output, crypto: crypto) { append in
                        if plaintext > 0 { [UInt8](repeating: 7, count: plaintext).withUnsafeBytes { append($0) } }
                    }
                }
            }
        }
    }
    layer.release()
    return 0
}
