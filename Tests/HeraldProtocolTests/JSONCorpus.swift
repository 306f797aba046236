/// Shared JSON inputs: every valid one must parse and validate, every
/// invalid one must do neither.
enum JSONCorpus {
    static let valid: [[UInt8]] = [
        "null", "true", "false", " 1 ", "0", "-0", "-0.5e+10", "1E5", "12.25", "1e-7", "123456789012345678901234567890",
        "\"\"", "\"a\\u00e9\\n\\\"\\\\\\/\\b\\f\\r\\t\"", "\"\\ud83d\\ude00\"", "\"κόσμε 😀\"",
        "[]", "{}", "[ ]", " {\n\t\"a\" : [1, {\"b\": null}], \"c\": \"d\"\r\n} ",
        "[[[[[[[[[[]]]]]]]]]]", "{\"a\":{\"a\":{\"a\":{}}}}", "{\"\":0}", "[1,\"2\",[3],{\"4\":5},true,false,null]",
    ].map { Array($0.utf8) }

    static let invalid: [[UInt8]] = [
        "", " ", "01", "-01", "1.", ".5", "+1", "-", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity",
        "[1,]", "[,1]", "[1 2]", "{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{\"a\":}", "{1:2}", "'a'", "[", "]", "{", "}",
        "\"a", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"",
        "nul", "truex", "True", "[1] 2", "{} {}", "\"tab\there\"", "\"new\nline\"", "[1]]", "/* c */ 1", "1 // c",
    ].map { Array($0.utf8) } + [
        [0xEF, 0xBB, 0xBF] + Array("1".utf8),  // BOM
        Array("\"".utf8) + [0xC0, 0x80] + Array("\"".utf8),  // overlong inside a string
        Array("\"".utf8) + [0xED, 0xA0, 0x80] + Array("\"".utf8),  // raw surrogate
        [0x22, 0x00, 0x22],  // raw NUL
        Array("[1,".utf8) + [0xFF] + Array("]".utf8),
    ]

    static func nested(_ depth: Int) -> [UInt8] {
        Array(repeating: UInt8(ascii: "["), count: depth) + Array(repeating: UInt8(ascii: "]"), count: depth)
    }
}
