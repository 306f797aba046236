import CURing
import Glibc
import Testing
@testable import HeraldIO

/// IORING_ACCEPT_POLL_FIRST as the engine arms it (`Ring.prepareAcceptDirect`
/// with `pollFirst`), on a real ring and a real listener: the kernel takes
/// the flag, the accept waits for a connection, and the connection lands in
/// the file-table slot asked for.
@Suite struct AcceptPollFirstTests {
    @Test func aPollFirstAcceptWaitsForAConnectionAndTakesIt() throws {
        let ring = try Ring(entries: 8, completionEntries: 16)
        try ring.registerSparseFiles(count: 4)
        let listener = try Socket.listen(host: "127.0.0.1", port: 0, backlog: 16, reusePort: false)
        defer { Socket.close(listener) }
        let port = Socket.boundPort(listener)
        let completions = UnsafeMutableBufferPointer<Completion>.allocate(capacity: 4)
        defer { completions.deallocate() }

        ring.prepareAcceptDirect(listener: listener, fileIndex: 2, pollFirst: true,
                                 userData: UserData(kind: 1, generation: 0, index: 2))
        ring.submit()
        // Nothing to accept yet: no completion (an unsupported flag would
        // complete at once with EINVAL).
        ring.submitAndWait(timeoutNanoseconds: 20_000_000)
        let early = ring.reap(into: completions)
        if early > 0, completions[0].result == -EINVAL {
            // Linux before 6.10: the engine falls back (Reactor.kernelTakesAcceptPollFirst).
            #expect(Self.kernelBefore(major: 6, minor: 10), "EINVAL for IORING_ACCEPT_POLL_FIRST on a 6.10+ kernel")
            return
        }
        #expect(early == 0, "a poll-first accept completed with no client: result \(completions[0].result)")

        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        #expect(connected == 0)

        var accepted: Completion?
        for _ in 0..<500 where accepted == nil {
            ring.submitAndWait(timeoutNanoseconds: 10_000_000)
            if ring.reap(into: completions) > 0 { accepted = completions[0] }
        }
        let completion = try #require(accepted, "no accept completion within 5 s of the connect")
        #expect(completion.userData.index == 2)
        // A direct accept into a chosen slot completes with 0.
        #expect(completion.result == 0)
    }

    /// Whether the running kernel's release is older than major.minor.
    static func kernelBefore(major: Int, minor: Int) -> Bool {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let parts = release.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
        guard parts.count == 2 else { return false }
        return (parts[0], parts[1]) < (major, minor)
    }
}
