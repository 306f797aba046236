/// Checks that bytes are exactly one JSON value (RFC 8259 §2), optionally
/// surrounded by whitespace, without building it: nothing is allocated, so
/// `application/json` publish bodies can be checked and forwarded as-is.
///
/// Strict: no BOM, no trailing commas, no comments, no NaN/Infinity, UTF-8
/// only (§8.1), no lone surrogate escapes (so every accepted body has a
/// Unicode reading, and agrees with `JSONValue.parse`).
public enum JSONValidator {
    /// Nesting deeper than this is rejected: it bounds recursion, and no
    /// control or publish message needs more.
    public static let depthMaxDefault = 64

    public static func isValid(_ bytes: UnsafeRawBufferPointer, depthMax: Int = 64) -> Bool {
        guard UTF8Validator.isValid(bytes) else { return false }
        var index = 0
        JSONLexer.skipWhitespace(bytes, &index)
        guard skipValue(bytes, &index, depth: 0, depthMax: depthMax) else { return false }
        JSONLexer.skipWhitespace(bytes, &index)
        return index == bytes.count
    }

    /// When `bytes` is exactly one JSON object, its members in order with
    /// the byte range of each raw value, so a caller can forward a member
    /// (`"data"` of a publish) without re-serializing it. Nil otherwise.
    public static func topLevelMembers(
        _ bytes: UnsafeRawBufferPointer, depthMax: Int = 64
    ) -> [(name: String, valueRange: Range<Int>)]? {
        var members: [(name: String, valueRange: Range<Int>)] = []
        members.reserveCapacity(4)
        let valid = forEachTopLevelMember(bytes, depthMax: depthMax) { name, valueRange in
            members.append((String(decoding: name, as: UTF8.self), valueRange))
        }
        return valid ? members : nil
    }

    /// `topLevelMembers` without the list: `body` gets each member's
    /// decoded name (valid only during the call) and its value's range as
    /// they are scanned, and the result says whether `bytes` was one valid
    /// object — until it does, what `body` saw counts for nothing. A batch
    /// line is read with no allocation but the one name buffer (the list
    /// and a String per name were three per line; issue 12).
    public static func forEachTopLevelMember(
        _ bytes: UnsafeRawBufferPointer, depthMax: Int = 64,
        _ body: (_ name: UnsafeRawBufferPointer, _ valueRange: Range<Int>) -> Void
    ) -> Bool {
        guard UTF8Validator.isValid(bytes) else { return false }
        var index = 0
        var name: [UInt8] = []
        JSONLexer.skipWhitespace(bytes, &index)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{"), depthMax >= 1 else { return false }
        index += 1
        JSONLexer.skipWhitespace(bytes, &index)
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
        } else {
            scan: while true {
                name.removeAll(keepingCapacity: true)
                guard JSONLexer.memberName(bytes, &index, decode: true, into: &name) else { return false }
                let start = index
                guard skipValue(bytes, &index, depth: 1, depthMax: depthMax) else { return false }
                name.withUnsafeBytes { body($0, start..<index) }
                switch JSONLexer.afterElement(bytes, &index, closing: UInt8(ascii: "}")) {
                case .more: continue
                case .closed: break scan
                case nil: return false
                }
            }
        }
        JSONLexer.skipWhitespace(bytes, &index)
        return index == bytes.count
    }

    /// Skips one value at `index`; `depth` is the number of enclosing containers.
    static func skipValue(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, depth: Int, depthMax: Int) -> Bool {
        guard index < bytes.count else { return false }
        var unused: [UInt8] = []
        switch bytes[index] {
        case UInt8(ascii: "{"):
            guard depth < depthMax else { return false }
            return skipContainer(bytes, &index, close: UInt8(ascii: "}"), isObject: true, depth: depth + 1, depthMax: depthMax)
        case UInt8(ascii: "["):
            guard depth < depthMax else { return false }
            return skipContainer(bytes, &index, close: UInt8(ascii: "]"), isObject: false, depth: depth + 1, depthMax: depthMax)
        case JSONLexer.quote:
            return JSONLexer.scanString(bytes, &index, decode: false, into: &unused)
        case UInt8(ascii: "t"):
            return JSONLexer.scanLiteral(bytes, &index, "true")
        case UInt8(ascii: "f"):
            return JSONLexer.scanLiteral(bytes, &index, "false")
        case UInt8(ascii: "n"):
            return JSONLexer.scanLiteral(bytes, &index, "null")
        default:
            return JSONLexer.scanNumber(bytes, &index)
        }
    }

    /// `index` is at the opening bracket; `depth` is the container's own depth.
    static func skipContainer(
        _ bytes: UnsafeRawBufferPointer, _ index: inout Int, close: UInt8, isObject: Bool, depth: Int, depthMax: Int
    ) -> Bool {
        var unused: [UInt8] = []
        index += 1
        JSONLexer.skipWhitespace(bytes, &index)
        if index < bytes.count && bytes[index] == close {
            index += 1
            return true
        }
        while true {
            if isObject && !JSONLexer.memberName(bytes, &index, decode: false, into: &unused) { return false }
            guard skipValue(bytes, &index, depth: depth, depthMax: depthMax) else { return false }
            switch JSONLexer.afterElement(bytes, &index, closing: close) {
            case .more: continue
            case .closed: return true
            case nil: return false
            }
        }
    }
}
