/// `--allowed-origins` (CONTRACT "Security"): which browser origins may
/// open a WebSocket. A page on another site can make a visitor's browser
/// connect with the visitor's cookies (cross-site WebSocket hijacking);
/// browsers always send `Origin` on a WebSocket upgrade (RFC 6455 §4.1,
/// item 8), so the server can refuse origins it does not know with 403
/// (§4.2.2). Clients that are not browsers send no `Origin` and are let
/// through: the header is a browser's statement, not authentication.
///
/// Patterns, comma separated: `https://app.example.com`,
/// `https://*.example.com` (`*` stands for one or more leading labels of the
/// host), `http://localhost:3000`, a host without a scheme (any scheme),
/// or `*` (any origin). Matching is case-insensitive (RFC 6454 §4).
public struct OriginPolicy: Sendable, Equatable {
    struct Pattern: Sendable, Equatable {
        /// nil: any scheme.
        let scheme: String?
        /// The host and optional port, lower-cased; a leading "*." is a wildcard.
        let authority: String
    }

    let patterns: [Pattern]
    let anyOrigin: Bool

    /// Parses the flag's value; nil when a pattern is malformed.
    public init?(_ text: String) {
        var patterns: [Pattern] = []
        var any = false
        for raw in text.split(separator: ",") {
            let item = raw.trimmingCharacters(in: " \t").lowercased()
            guard !item.isEmpty else { return nil }
            if item == "*" {
                any = true
                continue
            }
            var scheme: String?
            var authority = Substring(item)
            if let (before, after) = Self.splitScheme(Substring(item)) {
                scheme = String(before)
                authority = after
                guard scheme == "http" || scheme == "https" else { return nil }
            }
            let host = authority.hasPrefix("*.") ? authority.dropFirst(2) : authority
            guard !host.isEmpty, !host.contains("*"), !host.contains("/"),
                  host.allSatisfy({ $0.isLetter || $0.isNumber || "-.:[]".contains($0) }) else { return nil }
            patterns.append(Pattern(scheme: scheme, authority: String(authority)))
        }
        guard any || !patterns.isEmpty else { return nil }
        self.patterns = patterns
        anyOrigin = any
    }

    /// Whether an upgrade with this `Origin` header (nil: none) may proceed.
    public func allows(_ origin: String?) -> Bool {
        guard let origin else { return true }
        if anyOrigin { return true }
        let value = origin.lowercased()
        guard let (before, after) = Self.splitScheme(Substring(value)) else { return false }  // "null" and the like
        let scheme = String(before)
        let authority = String(after)
        return patterns.contains { pattern in
            if let expected = pattern.scheme, expected != scheme { return false }
            if pattern.authority.hasPrefix("*.") {
                let suffix = pattern.authority.dropFirst(1)  // ".example.com"
                return authority.hasSuffix(suffix) && authority.count > suffix.count
            }
            return authority == pattern.authority
        }
    }
}

extension OriginPolicy {
    /// "scheme://rest" split at the first "://".
    static func splitScheme(_ text: Substring) -> (Substring, Substring)? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix("://") {
                return (text[..<index], text[text.index(index, offsetBy: 3)...])
            }
            index = text.index(after: index)
        }
        return nil
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var result = self
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return result
    }
}
