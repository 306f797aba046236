/// Recursive-descent builder behind `JSONValue.parse` (RFC 8259 §2-§7).
/// Recursion is bounded by `depthMax`.
struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    let depthMax: Int
    var index = 0

    init(bytes: UnsafeRawBufferPointer, depthMax: Int) {
        self.bytes = bytes
        self.depthMax = depthMax
    }

    mutating func parseDocument() -> JSONValue? {
        JSONLexer.skipWhitespace(bytes, &index)
        guard let value = parseValue(depth: 0) else { return nil }
        JSONLexer.skipWhitespace(bytes, &index)
        return index == bytes.count ? value : nil
    }

    /// `depth` is the number of containers enclosing this value.
    mutating func parseValue(depth: Int) -> JSONValue? {
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            guard depth < depthMax else { return nil }
            return parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            guard depth < depthMax else { return nil }
            return parseArray(depth: depth + 1)
        case JSONLexer.quote:
            return parseString().map(JSONValue.string)
        case UInt8(ascii: "t"):
            return JSONLexer.scanLiteral(bytes, &index, "true") ? .bool(true) : nil
        case UInt8(ascii: "f"):
            return JSONLexer.scanLiteral(bytes, &index, "false") ? .bool(false) : nil
        case UInt8(ascii: "n"):
            return JSONLexer.scanLiteral(bytes, &index, "null") ? .null : nil
        default:
            let start = index
            guard JSONLexer.scanNumber(bytes, &index) else { return nil }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            // The grammar was checked above; Double(_:) only converts.
            return Double(text).map(JSONValue.number)
        }
    }

    mutating func parseString() -> String? {
        var out: [UInt8] = []
        guard JSONLexer.scanString(bytes, &index, decode: true, into: &out) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func parseArray(depth: Int) -> JSONValue? {
        index += 1
        var elements: [JSONValue] = []
        JSONLexer.skipWhitespace(bytes, &index)
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            guard let element = parseValue(depth: depth) else { return nil }
            elements.append(element)
            switch JSONLexer.afterElement(bytes, &index, closing: UInt8(ascii: "]")) {
            case .more: continue
            case .closed: return .array(elements)
            case nil: return nil
            }
        }
    }

    mutating func parseObject(depth: Int) -> JSONValue? {
        index += 1
        var members: [(String, JSONValue)] = []
        JSONLexer.skipWhitespace(bytes, &index)
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            var name: [UInt8] = []
            guard JSONLexer.memberName(bytes, &index, decode: true, into: &name),
                  let value = parseValue(depth: depth) else { return nil }
            members.append((String(decoding: name, as: UTF8.self), value))
            switch JSONLexer.afterElement(bytes, &index, closing: UInt8(ascii: "}")) {
            case .more: continue
            case .closed: return .object(members)
            case nil: return nil
            }
        }
    }
}
