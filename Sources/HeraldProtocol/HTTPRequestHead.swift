/// A parsed HTTP/1.x request head (RFC 9112 §2-§5).
public struct HTTPRequestHead: Sendable {
    public var method: String
    /// The request-target exactly as sent (RFC 9112 §3.2), not decoded.
    /// Rebuilt from `path` and `query` for the origin-form every client
    /// sends, so a parse makes no String of it: a target longer than 15
    /// bytes was a heap allocation per request (issue 12).
    public var target: String {
        if let otherFormTarget { return otherFormTarget }
        return hasQueryMark ? path + "?" + query : path
    }
    /// `target` before the first `?`.
    public var path: String
    /// `target` after the first `?`, "" when there is none.
    public var query: String
    /// The target as sent when it is not in origin-form (absolute-form,
    /// asterisk, authority): `path` and `query` do not spell it.
    private var otherFormTarget: String?
    /// An origin-form target had a `?` (possibly with an empty query).
    private var hasQueryMark: Bool
    /// The x of HTTP/1.x: 0 or 1.
    public var versionMinor: Int
    /// The fields, in one allocation: first the field lines' bytes, copied
    /// once from the receive buffer, then a table of `fieldCount` entries
    /// (`FieldTable`) giving each field's name and value (without leading
    /// and trailing OWS) as byte offsets into it, in the order received.
    /// Lookups compare bytes and build a String only for a value asked for,
    /// so a head's fields cost one allocation — the head of every handshake
    /// and every admin request (issue 12). (An array of ranges beside the
    /// bytes was a second allocation, and its element type's metadata was
    /// looked up in the runtime's cache on every allocation.)
    private var fields: [UInt8]
    private var fieldCount: Int

    /// Fields in the order received; values without leading and trailing OWS.
    /// Built on demand (tests, diagnostics): the server reads fields through
    /// `header(_:)` and `headerContainsToken(_:_:)`.
    public var headers: [(name: String, value: String)] {
        fields.withUnsafeBufferPointer { bytes in
            let table = FieldTable(bytes, count: fieldCount)
            return (0..<fieldCount).map { field in
                (name: String(decoding: UnsafeBufferPointer(rebasing: bytes[table.name(field)]), as: UTF8.self),
                 value: String(decoding: UnsafeBufferPointer(rebasing: bytes[table.value(field)]), as: UTF8.self))
            }
        }
    }

    public init(
        method: String, target: String, versionMinor: Int, headers: [(name: String, value: String)]
    ) {
        let byteCount = headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count }
        let fields = [UInt8](unsafeUninitializedCapacity: FieldTable.storageBytes(fieldBytes: byteCount,
                                                                                   fields: headers.count)) {
            buffer, initialized in
            var offset = 0
            for (field, header) in headers.enumerated() {
                let nameStart = offset
                for byte in header.name.utf8 { buffer[offset] = byte; offset += 1 }
                let valueStart = offset
                for byte in header.value.utf8 { buffer[offset] = byte; offset += 1 }
                FieldTable.store(field, name: nameStart..<valueStart, value: valueStart..<offset,
                                 into: UnsafeMutableRawBufferPointer(buffer), fieldBytes: byteCount)
            }
            initialized = buffer.count
        }
        self.init(method: method, target: target, versionMinor: versionMinor, fields: fields, fieldCount: headers.count)
    }

    /// `fields` laid out as `FieldTable` describes, with `fieldCount` entries.
    init(method: String, target: String, versionMinor: Int, fields: [UInt8], fieldCount: Int) {
        var target = target
        let parts = target.withUTF8 { HTTPRequestHead.parts(ofTarget: UnsafeRawBufferPointer($0)) }
        self.init(method: method, parts: parts, versionMinor: versionMinor, fields: fields, fieldCount: fieldCount)
    }

    /// The same, the target read from the request line's bytes: an
    /// origin-form target is split into `path` and `query` without a
    /// String of the whole.
    init(method: String, target: UnsafeRawBufferPointer, versionMinor: Int, fields: [UInt8], fieldCount: Int) {
        self.init(method: method, parts: HTTPRequestHead.parts(ofTarget: target), versionMinor: versionMinor,
                  fields: fields, fieldCount: fieldCount)
    }

    private init(method: String, parts: TargetParts, versionMinor: Int, fields: [UInt8], fieldCount: Int) {
        self.method = method
        (path, query, otherFormTarget, hasQueryMark) = (parts.path, parts.query, parts.otherForm, parts.hasQueryMark)
        self.versionMinor = versionMinor
        self.fields = fields
        self.fieldCount = fieldCount
    }

    private typealias TargetParts = (path: String, query: String, otherForm: String?, hasQueryMark: Bool)

    /// A request-target's path and query; the target itself only when it
    /// is not in origin-form.
    private static func parts(ofTarget bytes: UnsafeRawBufferPointer) -> TargetParts {
        guard bytes.first == UInt8(ascii: "/") else {
            let target = String(decoding: bytes, as: UTF8.self)
            let (path, query) = pathAndQuery(of: originForm(of: target))
            return (path, query, target, false)
        }
        let (path, query) = pathAndQuery(of: bytes.assumingMemoryBound(to: UInt8.self))
        return (path, query, nil, bytes.contains(UInt8(ascii: "?")))
    }

    /// The table at the end of `HTTPRequestHead.fields`: per field, four
    /// 32-bit offsets (name start, name end, value start, value end) into
    /// the bytes before it, stored unaligned in native byte order.
    struct FieldTable {
        static let entryBytes = 4 * MemoryLayout<UInt32>.size
        let bytes: UnsafeBufferPointer<UInt8>
        let start: Int

        init(_ storage: UnsafeBufferPointer<UInt8>, count: Int) {
            bytes = storage
            start = storage.count - count * Self.entryBytes
        }

        static func storageBytes(fieldBytes: Int, fields: Int) -> Int { fieldBytes + fields * entryBytes }

        /// Writes entry `field` of a table that follows `fieldBytes` bytes.
        static func store(_ field: Int, name: Range<Int>, value: Range<Int>, into storage: UnsafeMutableRawBufferPointer,
                          fieldBytes: Int) {
            let entry = fieldBytes + field * entryBytes
            storage.storeBytes(of: UInt32(truncatingIfNeeded: name.lowerBound), toByteOffset: entry, as: UInt32.self)
            storage.storeBytes(of: UInt32(truncatingIfNeeded: name.upperBound), toByteOffset: entry + 4, as: UInt32.self)
            storage.storeBytes(of: UInt32(truncatingIfNeeded: value.lowerBound), toByteOffset: entry + 8, as: UInt32.self)
            storage.storeBytes(of: UInt32(truncatingIfNeeded: value.upperBound), toByteOffset: entry + 12, as: UInt32.self)
        }

        @inline(__always)
        private func offset(_ field: Int, _ part: Int) -> Int {
            Int(UnsafeRawBufferPointer(bytes).loadUnaligned(fromByteOffset: start + field * Self.entryBytes + part * 4,
                                                            as: UInt32.self))
        }

        func name(_ field: Int) -> Range<Int> { offset(field, 0)..<offset(field, 1) }
        func value(_ field: Int) -> Range<Int> { offset(field, 2)..<offset(field, 3) }
    }

    /// `origin` split at its first `?`, through its bytes (String indices
    /// cost more: this runs for every handshake and admin request).
    private static func pathAndQuery(of origin: Substring) -> (path: String, query: String) {
        var origin = origin
        return origin.withUTF8 { pathAndQuery(of: $0) }
    }

    private static func pathAndQuery(of bytes: UnsafeBufferPointer<UInt8>) -> (path: String, query: String) {
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else {
            return (String(decoding: bytes, as: UTF8.self), "")
        }
        return (String(decoding: UnsafeBufferPointer(rebasing: bytes[..<question]), as: UTF8.self),
                String(decoding: UnsafeBufferPointer(rebasing: bytes[(question + 1)...]), as: UTF8.self))
    }

    /// `bytes[range]` without leading and trailing OWS (RFC 9110 §5.6.3).
    private static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UnsafeBufferPointer<UInt8> {
        var low = range.lowerBound
        var high = range.upperBound
        while low < high && ASCII.isWhitespace(bytes[low]) { low += 1 }
        while high > low && ASCII.isWhitespace(bytes[high - 1]) { high -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[low..<high])
    }

    /// Calls `body` with the value bytes of every field named `name`
    /// (case-insensitive, RFC 9110 §5.1), in order, until it returns false.
    private func forEachValue(of name: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) {
        var name = name
        name.withUTF8 { name in
            fields.withUnsafeBufferPointer { bytes in
                let table = FieldTable(bytes, count: fieldCount)
                for field in 0..<fieldCount {
                    let fieldName = table.name(field)
                    if fieldName.count == name.count
                        && ASCII.equalsIgnoringCase(UnsafeBufferPointer(rebasing: bytes[fieldName]), name) {
                        if !body(UnsafeBufferPointer(rebasing: bytes[table.value(field)])) { return }
                    }
                }
            }
        }
    }

    /// The origin-form part (path and query) of a request-target. RFC 9112
    /// §3.2.2: a server MUST accept the absolute-form (`http://host/p?q`,
    /// what proxies send), whose path is then "/" when the URI has none.
    /// Other forms (origin, asterisk, authority) are returned as they are.
    static func originForm(of target: String) -> Substring {
        // Origin-form, what nearly every request sends: nothing to copy.
        guard let first = target.utf8.first, first != UInt8(ascii: "/") else { return Substring(target) }
        let bytes = Array(target.utf8)
        // scheme "://" authority [ path-abempty ] [ "?" query ]
        var colon = 0
        while colon < bytes.count && bytes[colon] != UInt8(ascii: ":") { colon += 1 }
        guard colon + 2 < bytes.count, bytes[colon + 1] == UInt8(ascii: "/"), bytes[colon + 2] == UInt8(ascii: "/")
        else { return Substring(target) }
        let scheme = String(decoding: bytes[0..<colon], as: UTF8.self)
        guard ASCII.equalsIgnoringCase(scheme, "http") || ASCII.equalsIgnoringCase(scheme, "https") else {
            return Substring(target)
        }
        var end = colon + 3
        while end < bytes.count && bytes[end] != UInt8(ascii: "/") && bytes[end] != UInt8(ascii: "?") { end += 1 }
        let rest = String(decoding: bytes[end...], as: UTF8.self)
        return Substring(rest.isEmpty || rest.utf8.first == UInt8(ascii: "?") ? "/" + rest : rest)
    }

    /// How many `Host` fields the request carries. RFC 9112 §3.2: a server
    /// MUST answer 400 to an HTTP/1.1 request with none, and to any request
    /// with more than one.
    public var hostFieldCount: Int {
        var count = 0
        forEachValue(of: "Host") { _ in
            count += 1
            return true
        }
        return count
    }

    /// True when the Host rule above is met.
    public var hasValidHost: Bool {
        let count = hostFieldCount
        return count == 1 || (count == 0 && versionMinor == 0)
    }

    /// The request's `Expect` (RFC 9110 §10.1.1): nil when absent, true for
    /// `100-continue` (the only expectation defined), false for anything else.
    public var expectsContinue: Bool? {
        guard let value = header("Expect") else { return nil }
        return ASCII.equalsIgnoringCase(ASCII.trimmed(Substring(value)), "100-continue")
    }

    /// The value of the field `name` (case-insensitive, RFC 9110 §5.1).
    /// Several fields of the same name are joined with ", " as RFC 9110
    /// §5.3 allows for list-based fields. Nil when absent.
    public func header(_ name: String) -> String? {
        var result: String?
        forEachValue(of: name) { value in
            let text = String(decoding: value, as: UTF8.self)
            result = result.map { $0 + ", " + text } ?? text
            return true
        }
        return result
    }

    /// Whether any field is named `name` (case-insensitive).
    public func hasHeader(_ name: String) -> Bool {
        var found = false
        forEachValue(of: name) { _ in
            found = true
            return false
        }
        return found
    }

    /// `body` applied in place to the value of the one field named `name`;
    /// nil when there is none or several (`header(_:)` would join several,
    /// which no single-valued field survives: "13, 13" is no version).
    public func withSoleValue<R>(of name: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        var matches = 0
        var result: R?
        forEachValue(of: name) { value in
            matches += 1
            if matches == 1 { result = body(value) }
            return matches == 1
        }
        return matches == 1 ? result : nil
    }

    /// Whether the request's one `field` (Content-Type) names the media
    /// type `type` (lower-case): compared case-insensitively without its
    /// parameters and OWS ("Application/JSON; charset=utf-8" is
    /// "application/json", RFC 9110 §8.3.1). False when the field is absent
    /// or repeated (a repeated Content-Type names no one type). Compares
    /// bytes: this runs for every publish.
    public func hasMediaType(_ type: String, field: String = "Content-Type") -> Bool {
        var matches = 0
        var found = false
        var type = type
        type.withUTF8 { type in
            forEachValue(of: field) { value in
                matches += 1
                var end = 0
                while end < value.count && value[end] != UInt8(ascii: ";") { end += 1 }
                found = ASCII.equalsIgnoringCase(Self.trimmed(value, 0..<end), type)
                return true
            }
        }
        return found && matches == 1
    }

    /// Whether any field `name` lists `token` among its comma-separated
    /// elements (RFC 9110 §5.6.1), compared case-insensitively. This is how
    /// `Connection: keep-alive, Upgrade` is read (RFC 6455 §4.2.1 items 3-4).
    public func headerContainsToken(_ name: String, _ token: String) -> Bool {
        var found = false
        var token = token
        token.withUTF8 { token in
            forEachValue(of: name) { value in
                // Elements between commas, OWS trimmed, compared in place
                // (this runs for `Connection` and `Upgrade` of every handshake).
                var start = 0
                while start < value.count && !found {
                    var end = start
                    while end < value.count && value[end] != ASCII.comma { end += 1 }
                    let element = Self.trimmed(value, start..<end)
                    if !element.isEmpty && ASCII.equalsIgnoringCase(element, token) { found = true }
                    start = end + 1
                }
                return !found
            }
        }
        return found
    }
}
