/// The outcome of `HTTPRequestHeadParser.parse`.
public enum HTTPHeadParseResult: Sendable {
    /// No end of head yet; receive more and parse again.
    case incomplete
    /// The head is, or must become, longer than the limit (answer 431).
    case tooLarge
    /// Not an HTTP/1.0 or 1.1 request head (answer 400).
    case malformed
    /// A complete head; `headLength` counts every byte through the final CRLFCRLF.
    case complete(HTTPRequestHead, headLength: Int)
}
