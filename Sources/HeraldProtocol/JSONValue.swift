/// A JSON value (RFC 8259 §3), for control messages and admin requests.
///
/// Objects keep their members in order, duplicates included, so the value
/// reflects the text exactly; lookups take the last duplicate, as
/// ECMAScript's JSON.parse does (RFC 8259 §4 leaves it to implementations).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// Parses exactly one value surrounded by optional whitespace. Nil on any
    /// syntax error, trailing bytes, invalid UTF-8, a lone surrogate escape,
    /// or nesting deeper than `depthMax`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, depthMax: Int = JSONValidator.depthMaxDefault) -> JSONValue? {
        guard UTF8Validator.isValid(bytes) else { return nil }
        var parser = JSONParser(bytes: bytes, depthMax: depthMax)
        return parser.parseDocument()
    }

    /// The value of the last member named `key`; nil if absent or not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.0 == key })?.1
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// A non-negative integer exactly representable (below 2^53; numbers
    /// are parsed as Double), else nil.
    public var unsignedValue: UInt64? {
        guard case .number(let value) = self, value >= 0, value < 9_007_199_254_740_992,
              value == value.rounded(.towardZero) else { return nil }
        return UInt64(value)
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Appends the compact JSON text of this value to `out`. Integral numbers
    /// below 2^53 print without a fraction; non-finite numbers, which JSON
    /// cannot express (RFC 8259 §6), print as null.
    public func append(to out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: "null".utf8)
        case .bool(let value):
            out.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let value):
            out.append(contentsOf: Self.numberText(value).utf8)
        case .string(let value):
            JSONString.append(value.utf8, to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                element.append(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (position, member) in members.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.append(member.0.utf8, to: &out)
                out.append(UInt8(ascii: ":"))
                member.1.append(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Doubles represent every integer up to 2^53 exactly.
    static let exactIntegerMax = 9_007_199_254_740_992.0

    static func numberText(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded(.towardZero) && abs(value) <= exactIntegerMax {
            return String(Int64(value))
        }
        // Swift prints the shortest round-tripping form, e.g. 1e-05 or
        // 1.5e+300, which is valid RFC 8259 §6 number syntax.
        return value.description
    }
}
