/// How a request's body is delimited (RFC 9112 §6.3), decided from its head
/// alone, before any body byte is read.
public enum HTTPBodyFraming: Equatable, Sendable {
    /// No body (neither Content-Length nor Transfer-Encoding).
    case none
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`. `closeAfter` when Content-Length was
    /// sent too: RFC 9112 §6.3 item 3 — Transfer-Encoding wins, and the
    /// server "MUST close the connection after responding", because an
    /// intermediary may have framed the same bytes by Content-Length
    /// (request smuggling).
    case chunked(closeAfter: Bool)

    /// Why a head's framing is refused; every refusal closes the connection.
    public struct Refusal: Error, Equatable, Sendable {
        public let status: HTTPStatus
        public let message: String
    }

    /// The framing of `head`, or why it is refused. A declared length over
    /// `bodyBytesMax` is refused before the body arrives (413).
    public static func of(_ head: HTTPRequestHead, bodyBytesMax: Int) -> Result<HTTPBodyFraming, Refusal> {
        // Content-Length read in place: the value of the one field as a
        // number (nil inside when it is not 1*DIGIT), nil when there is
        // none or several (this runs for every admin request).
        let soleLength: Int?? = head.withSoleValue(of: "Content-Length") { Self.decimal($0) }
        let hasLength = soleLength != nil || head.hasHeader("Content-Length")
        if let coding = head.header("Transfer-Encoding") {
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means
            // the framing is faulty, Content-Length or not.
            guard head.versionMinor >= 1 else {
                return .failure(Refusal(status: .badRequest, message: "Transfer-Encoding in an HTTP/1.0 request"))
            }
            let codings = coding.split(separator: ",").map { ASCII.trimmed($0) }.filter { !$0.isEmpty }
            guard let last = codings.last, ASCII.equalsIgnoringCase(last, "chunked") else {
                // §6.3 item 4: chunked must be the final coding of a request.
                return .failure(Refusal(status: .badRequest, message: "chunked must be the final transfer coding"))
            }
            guard codings.count == 1 else {
                return .failure(Refusal(status: .notImplemented, message: "only the chunked transfer coding is implemented"))
            }
            return .success(.chunked(closeAfter: hasLength))
        }
        guard hasLength else { return .success(.none) }
        // RFC 9110 §8.6: 1*DIGIT. Several fields or a list ("5, 5") are
        // refused rather than reconciled (§6.3 item 5 allows either).
        guard let value = soleLength ?? nil else {
            return .failure(Refusal(status: .badRequest, message: "bad Content-Length"))
        }
        guard value <= bodyBytesMax else {
            return .failure(Refusal(status: .payloadTooLarge, message: "body over \(bodyBytesMax) bytes"))
        }
        return .success(value == 0 ? .none : .contentLength(value))
    }

    /// 1 to 18 ASCII digits as a number; nil for anything else.
    static func decimal(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }
}
