import Foundation

/// When a connection token expires: its `exp` claim (RFC 7519 §4.1.4),
/// read without checking the signature (the server does that).
enum TokenExpiry {
    static func seconds(of token: String) -> Double? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let exp = claims["exp"] as? NSNumber else { return nil }
        return exp.doubleValue
    }

    /// Seconds from `now` at which to renew a token expiring at `exp`: 10 %
    /// of its remaining life (at most 5 s) early, never sooner than 1 s.
    static func renewIn(exp: Double, now: Double) -> Double {
        let remaining = exp - now
        return max(1, remaining - min(5, remaining / 10))
    }
}
