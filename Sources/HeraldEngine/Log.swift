import HeraldCore
import HeraldIO

/// One line per event on stderr, `level=… msg=… key=value …`, so operators
/// can grep and log shippers can split fields without a schema.
public enum Log {
    nonisolated(unsafe) static var minimumLevel: LogLevel = .info

    /// Set once at start, before any thread is spawned.
    public static func configure(level: LogLevel) { minimumLevel = level }

    public static func debug(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        write(.debug, message(), fields())
    }

    public static func info(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        write(.info, message(), fields())
    }

    public static func warning(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        write(.warning, message(), fields())
    }

    public static func error(_ message: @autoclosure () -> String, _ fields: @autoclosure () -> KeyValuePairs<String, String> = [:]) {
        write(.error, message(), fields())
    }

    /// A plain line on stderr (start-up errors, before logging is set up).
    public static func plain(_ text: String) {
        StandardError.write(text + "\n")
    }

    public static func isEnabled(_ level: LogLevel) -> Bool { level >= minimumLevel }

    static func write(_ level: LogLevel, _ message: String, _ fields: KeyValuePairs<String, String>) {
        guard level >= minimumLevel else { return }
        var line = "level=\(level.name) msg=\(quoted(message))"
        for (key, value) in fields { line += " \(key)=\(quoted(value))" }
        line += "\n"
        StandardError.write(line)
    }

    static func quoted(_ value: String) -> String {
        let plain = !value.isEmpty && value.utf8.allSatisfy { $0 > 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "=") && $0 < 0x7F }
        if plain { return value }
        var out = "\""
        for character in value.unicodeScalars {
            switch character {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out + "\""
    }
}
