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
        // Locals, not `static let`s: each use of a global went through its
        // lazy initializer and made the scan slower than byte by byte.
        let crs = SIMD16<UInt8>(repeating: ASCII.cr)
        let lfs = SIMD16<UInt8>(repeating: ASCII.lf)
        while index < scanned {
            // Sixteen bytes at a time while they hold no CR or LF: most of
            // a head is field text, and a byte-by-byte scan was the largest
            // part of a parse (issue 12).
            if !afterCR {
                while index + 16 <= scanned {
                    // Safe: index + 16 <= scanned <= bytes.count.
                    let chunk = bytes.loadUnaligned(fromByteOffset: index, as: SIMD16<UInt8>.self)
                    if any((chunk .== crs) .| (chunk .== lfs)) { break }
                    index += 16
                }
                if index >= scanned { break }
            }
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
        guard let (method, target, versionMinor, lineEnd) = parseRequestLine(bytes, from: from, to: to) else {
            return nil
        }
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
            // Each field line is read once: its value's check stops at the
            // line's CR (`parse` checked every CR is followed by LF).
            var lineStart = fieldsStart
            while lineStart < to {
                guard stored < fieldCount, let field = parseField(bytes, from: lineStart, to: to) else {
                    valid = false
                    break
                }
                HTTPRequestHead.FieldTable.store(stored, name: field.name.lowerBound - fieldsStart
                                                            ..< field.name.upperBound - fieldsStart,
                                                 value: field.value.lowerBound - fieldsStart
                                                            ..< field.value.upperBound - fieldsStart,
                                                 into: storage, fieldBytes: fieldBytes)
                stored += 1
                lineStart = field.lineEnd + 2
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
        return HTTPRequestHead(method: method, target: UnsafeRawBufferPointer(rebasing: bytes[target]),
                               versionMinor: versionMinor, fields: fields, fieldCount: fieldCount)
    }

    /// RFC 9112 §3: method SP request-target SP HTTP-version, single
    /// spaces, from `from` to the line's CR (`parse` checked every CR is
    /// followed by LF) or to `to`. The method, the target's range, the
    /// minor version and where the line ends; one pass over the line.
    static func parseRequestLine(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int)
        -> (method: String, target: Range<Int>, versionMinor: Int, lineEnd: Int)? {
        var index = from
        while index < to && ASCII.isTokenChar(bytes[index]) { index += 1 }
        guard index > from, index < to, bytes[index] == ASCII.space else { return nil }
        let methodRange = from..<index
        index += 1
        // A request-target is URI text (RFC 3986): visible ASCII only.
        let targetStart = index
        while index < to && bytes[index] > ASCII.space && bytes[index] < ASCII.del { index += 1 }
        guard index > targetStart, index < to, bytes[index] == ASCII.space else { return nil }
        let targetRange = targetStart..<index
        index += 1
        // "HTTP/1." and one digit, then the line's end, compared as bytes
        // (a generic elementsEqual against a String's UTF-8 view was ~4 %
        // of a parse).
        let lineEnd = index + 8
        guard lineEnd <= to, lineEnd == to || bytes[lineEnd] == ASCII.cr else { return nil }
        let version = UnsafeRawBufferPointer(rebasing: bytes[index..<lineEnd])
        guard UInt64(littleEndian: version.loadUnaligned(as: UInt64.self)) & 0x00FF_FFFF_FFFF_FFFF == Self.versionPrefix
        else { return nil }
        let versionMinor: Int
        switch version[7] {
        case UInt8(ascii: "1"): versionMinor = 1
        case UInt8(ascii: "0"): versionMinor = 0
        default: return nil
        }
        return (string(bytes, methodRange), targetRange, versionMinor, lineEnd)
    }

    /// "HTTP/1." (48 54 54 50 2F 31 2E) as the low 7 bytes of a
    /// little-endian UInt64 (a unit test spells it out).
    static let versionPrefix: UInt64 = 0x002E_312F_5054_5448

    /// RFC 9112 §5: field-name ":" OWS field-value OWS, the line starting
    /// at `from` and ending at the first CR (or at `to`, the end of the
    /// field lines), where `lineEnd` is.
    static func parseField(_ bytes: UnsafeRawBufferPointer, from lineStart: Int, to end: Int)
        -> (name: Range<Int>, value: Range<Int>, lineEnd: Int)? {
        // An empty name also catches obs-fold: a line starting with SP or
        // HTAB is not a token char (RFC 9112 §5.2: reject or unfold; we reject).
        var colon = lineStart
        while colon < end && ASCII.isTokenChar(bytes[colon]) { colon += 1 }
        // RFC 9112 §5.1: no whitespace between name and colon.
        guard colon > lineStart, colon < end, bytes[colon] == ASCII.colon else { return nil }
        // RFC 9110 §5.5: field-vchar = VCHAR / obs-text, plus SP and HTAB
        // inside; the first other control character must be the line's CR.
        var lineEnd = colon + 1
        while lineEnd < end {
            let byte = bytes[lineEnd]
            if byte < ASCII.space && byte != ASCII.tab {
                guard byte == ASCII.cr else { return nil }
                break
            }
            if byte == ASCII.del { return nil }
            lineEnd += 1
        }
        var valueStart = colon + 1
        var valueEnd = lineEnd
        while valueStart < valueEnd && ASCII.isWhitespace(bytes[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart && ASCII.isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        return (lineStart..<colon, valueStart..<valueEnd, lineEnd)
    }

    static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
