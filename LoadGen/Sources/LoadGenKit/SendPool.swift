/// Fixed buffers for the few sends a client makes (the upgrade request, a
/// subscribe message, pongs). A send's bytes must stay put until its
/// completion, so each in-flight send owns one entry; the entry remembers
/// which connection it belongs to. Allocated once per ring, touched lazily.
struct SendPool {
    /// Upgrade requests with long URLs and headers fit; pongs use ≤ 131 bytes.
    static let entryBytes = 1_024
    let capacity: Int
    let memory: UnsafeMutableRawPointer
    var free: [UInt32]
    /// The file index (connection) and generation each entry's send belongs to.
    var ownerFile: [UInt32]
    var ownerGeneration: [UInt32]
    /// True for the upgrade request: its completion arms the receive.
    var isHandshake: [Bool]

    init(capacity: Int) {
        self.capacity = capacity
        memory = .allocate(byteCount: capacity * Self.entryBytes, alignment: 16)
        free = (0..<UInt32(capacity)).reversed()
        ownerFile = Array(repeating: 0, count: capacity)
        ownerGeneration = Array(repeating: 0, count: capacity)
        isHandshake = Array(repeating: false, count: capacity)
    }

    func buffer(_ entry: UInt32) -> UnsafeMutableRawBufferPointer {
        // Safe: entry < capacity (handed out by `take`).
        UnsafeMutableRawBufferPointer(start: memory + Int(entry) * Self.entryBytes, count: Self.entryBytes)
    }

    mutating func take(file: UInt32, generation: UInt32, handshake: Bool) -> UInt32? {
        guard let entry = free.popLast() else { return nil }
        ownerFile[Int(entry)] = file
        ownerGeneration[Int(entry)] = generation
        isHandshake[Int(entry)] = handshake
        return entry
    }

    mutating func give(_ entry: UInt32) { free.append(entry) }
}
