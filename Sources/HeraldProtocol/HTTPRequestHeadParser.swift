/// Parses an HTTP/1.x request head (RFC 9112 §2.2, §3, §5).
///
/// Stateless: the caller accumulates received bytes and calls again after
/// each receive. A head is small and the caller bounds it, so rescanning
/// costs at most `maxHeadBytes` per receive, and no state has to live in
/// the connection slot.
public enum HTTPRequestHeadParser {
    /// Parses the head at the start of `bytes`.
    ///
    /// - CRLF line endings are required; a bare LF or CR is malformed
    ///   (RFC 9112 §2.2 allows accepting bare LF, but a strict reading keeps
    ///   request smuggling through proxies off the table).
    /// - Empty lines before the request line are skipped (RFC 9112 §2.2).
    /// - obs-fold, control characters, a missing method, target or version,
    ///   or a version other than HTTP/1.0 or HTTP/1.1 are malformed.
    /// - A head longer than `maxHeadBytes`, complete or not, is `.tooLarge`.
    public static func parse(_ bytes: UnsafeRawBufferPointer, maxHeadBytes: Int) -> HTTPHeadParseResult {
        let count = bytes.count
        // RFC 9112 §2.2: "SHOULD ignore at least one empty line (CRLF)
        // received prior to the request-line".
        var start = 0
        while count - start >= 2 && bytes[start] == ASCII.cr && bytes[start + 1] == ASCII.lf {
            start += 2
        }
        var lineStart = start
        var end = -1
        var lines = 0
        // Byte `index` would make the head at least index + 1 bytes long:
        // past `maxHeadBytes` it is too large, whatever the byte.
        let scanned = min(count, maxHeadBytes)
        // Whether the byte before `index` was a CR (kept rather than looked
        // back at for every byte).
        var afterCR = false
        var index = start
        while index < scanned {
            let byte = bytes[index]
            if byte == ASCII.lf {
                // Every LF must end a CRLF.
                guard afterCR else { return .malformed }
                if index - 1 == lineStart && lineStart > start {
                    end = index + 1
                    break
                }
                lineStart = index + 1
                lines += 1
                afterCR = false
            } else if afterCR {
                // A CR not followed by LF.
                return .malformed
            } else {
                afterCR = byte == ASCII.cr
            }
            index += 1
        }
        if end < 0 {
            return count > scanned || count >= maxHeadBytes ? .tooLarge : .incomplete
        }
        // `lines` counted the request line and each field line.
        guard let head = parseLines(bytes, from: start, to: end - 2, fieldLines: lines - 1) else { return .malformed }
        return .complete(head, headLength: end)
    }

    /// Parses the request line and fields in `bytes[from..<to]`, a sequence
    /// of CRLF-terminated lines already checked for line endings.
    static func parseLines(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int, fieldLines: Int) -> HTTPRequestHead? {
        // The request line ends at the first CR (`parse` checked every CR
        // is followed by LF).
        var lineEnd = from
        while lineEnd < to && bytes[lineEnd] != ASCII.cr { lineEnd += 1 }
        guard let (method, target, versionMinor) = parseRequestLine(bytes, from..<lineEnd) else { return nil }
        // The field lines are copied once, with each name's and value's
        // offsets in a table after them: one allocation
        // (`HTTPRequestHead.fields`).
        let fieldsStart = min(lineEnd + 2, to)
        let fieldBytes = to - fieldsStart
        let fieldCount = max(fieldLines, 0)
        var stored = 0
        var valid = true
        let fields = [UInt8](unsafeUninitializedCapacity: HTTPRequestHead.FieldTable.storageBytes(
            fieldBytes: fieldBytes, fields: fieldCount)) { buffer, initialized in
            let storage = UnsafeMutableRawBufferPointer(buffer)
            // A block copy (Array's init from a sequence copies byte by byte).
            storage.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[fieldsStart..<to]))
            var lineStart = fieldsStart
            var index = fieldsStart
            while index <= to {
                if index == to || bytes[index] == ASCII.cr {
                    if index > lineStart || index < to {
                        guard stored < fieldCount, let field = parseField(bytes, lineStart..<index) else {
                            valid = false
                            break
                        }
                        HTTPRequestHead.FieldTable.store(stored, name: field.name.lowerBound - fieldsStart
                                                                    ..< field.name.upperBound - fieldsStart,
                                                         value: field.value.lowerBound - fieldsStart
                                                                    ..< field.value.upperBound - fieldsStart,
                                                         into: storage, fieldBytes: fieldBytes)
                        stored += 1
                    }
                    index += 2
                    lineStart = index
                } else {
                    index += 1
                }
            }
            // Every byte is written: the table's unfilled entries (none
            // when `fieldLines` counted right) are zeroed, never left
            // uninitialized.
            if stored < fieldCount {
                storage[(fieldBytes + stored * HTTPRequestHead.FieldTable.entryBytes)...].initializeMemory(
                    as: UInt8.self, repeating: 0)
            }
            initialized = buffer.count
        }
        guard valid, stored == fieldCount else { return nil }
        return HTTPRequestHead(method: method, target: target, versionMinor: versionMinor, fields: fields,
                               fieldCount: fieldCount)
    }

    /// RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
    static func parseRequestLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> (String, String, Int)? {
        // Exactly two spaces, found without an array of the parts.
        var spaces = (line.upperBound, line.upperBound)
        var count = 0
        for index in line where bytes[index] == ASCII.space {
            count += 1
            if count == 1 { spaces.0 = index } else if count == 2 { spaces.1 = index } else { return nil }
        }
        guard count == 2 else { return nil }
        let methodRange = line.lowerBound..<spaces.0
        let targetRange = spaces.0 + 1..<spaces.1
        let versionRange = spaces.1 + 1..<line.upperBound
        guard !methodRange.isEmpty, methodRange.allSatisfy({ ASCII.isTokenChar(bytes[$0]) }) else { return nil }
        // A request-target is URI text (RFC 3986): visible ASCII only.
        guard !targetRange.isEmpty,
            targetRange.allSatisfy({ bytes[$0] > ASCII.space && bytes[$0] < ASCII.del })
        else { return nil }
        // "HTTP/1." and one digit, compared as bytes (a generic
        // elementsEqual against a String's UTF-8 view was ~4 % of a parse).
        guard versionRange.count == 8 else { return nil }
        let version = UnsafeRawBufferPointer(rebasing: bytes[versionRange])
        guard UInt64(littleEndian: version.loadUnaligned(as: UInt64.self)) & 0x00FF_FFFF_FFFF_FFFF == Self.versionPrefix
        else { return nil }
        let versionMinor: Int
        switch version[7] {
        case UInt8(ascii: "1"): versionMinor = 1
        case UInt8(ascii: "0"): versionMinor = 0
        default: return nil
        }
        return (string(bytes, methodRange), string(bytes, targetRange), versionMinor)
    }

    /// "HTTP/1." (48 54 54 50 2F 31 2E) as the low 7 bytes of a
    /// little-endian UInt64 (a unit test spells it out).
    static let versionPrefix: UInt64 = 0x002E_312F_5054_5448

    /// RFC 9112 §5: field-name ":" OWS field-value OWS.
    static func parseField(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> (name: Range<Int>, value: Range<Int>)? {
        // An empty name also catches obs-fold: a line starting with SP or
        // HTAB is not a token char (RFC 9112 §5.2: reject or unfold; we reject).
        var colon = line.lowerBound
        while colon < line.upperBound && ASCII.isTokenChar(bytes[colon]) { colon += 1 }
        // RFC 9112 §5.1: no whitespace between name and colon.
        guard colon > line.lowerBound, colon < line.upperBound, bytes[colon] == ASCII.colon else { return nil }
        var valueStart = colon + 1
        var valueEnd = line.upperBound
        while valueStart < valueEnd && ASCII.isWhitespace(bytes[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart && ASCII.isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        // RFC 9110 §5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB inside.
        for index in valueStart..<valueEnd {
            let byte = bytes[index]
            if (byte < ASCII.space && byte != ASCII.tab) || byte == ASCII.del { return nil }
        }
        return (line.lowerBound..<colon, valueStart..<valueEnd)
    }

    static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
