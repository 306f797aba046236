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
        let length = head.header("Content-Length")
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
            return .success(.chunked(closeAfter: length != nil))
        }
        guard let length else { return .success(.none) }
        // RFC 9110 §8.6: 1*DIGIT. Several fields or a list ("5, 5") are
        // refused rather than reconciled (§6.3 item 5 allows either).
        guard !length.isEmpty, length.utf8.count <= 18, length.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let value = Int(length) else {
            return .failure(Refusal(status: .badRequest, message: "bad Content-Length"))
        }
        guard value <= bodyBytesMax else {
            return .failure(Refusal(status: .payloadTooLarge, message: "body over \(bodyBytesMax) bytes"))
        }
        return .success(value == 0 ? .none : .contentLength(value))
    }
}
