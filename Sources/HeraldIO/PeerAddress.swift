import Glibc

/// Room for one accepted peer's address (an accept writes it), and its
/// source key for `SourceRateLimiter`: an IPv4 address, or an IPv6 /64
/// (one host's usual allotment; an IPv4-mapped address counts as IPv4).
public struct PeerAddress {
    public let storage: UnsafeMutablePointer<sockaddr_storage>
    public let length: UnsafeMutablePointer<socklen_t>

    public static func allocate() -> PeerAddress {
        let storage = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 1)
        storage.initialize(to: sockaddr_storage())
        let length = UnsafeMutablePointer<socklen_t>.allocate(capacity: 1)
        length.initialize(to: 0)
        return PeerAddress(storage: storage, length: length)
    }

    public func deallocate() {
        storage.deallocate()
        length.deallocate()
    }

    /// The source key; nil when the accept wrote no address we know.
    public var sourceKey: UInt64? {
        let raw = UnsafeRawPointer(storage)
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let address = raw.assumingMemoryBound(to: sockaddr_in.self).pointee.sin_addr.s_addr
            return UInt64(UInt32(bigEndian: address))
        case AF_INET6:
            let bytes = withUnsafeBytes(of: raw.assumingMemoryBound(to: sockaddr_in6.self).pointee.sin6_addr) { Array($0) }
            // ::ffff:a.b.c.d (RFC 4291 §2.5.5.2): the IPv4 host.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return bytes[12..<16].reduce(0) { $0 << 8 | UInt64($1) }
            }
            return bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }  // the /64
        default:
            return nil
        }
    }
}
