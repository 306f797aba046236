/// Builds a `Config` from flags, environment and a config file.
///
/// Precedence (CONTRACT "Programs"): flags win over `HERALD_*` environment
/// variables, which win over the file named by `--config` / `HERALD_CONFIG`.
/// Pure: the caller passes the environment and a file reader, so tests need
/// no process state.
public enum ConfigLoader {
    public enum Outcome: Equatable, Sendable {
        case run(Config)
        case help(String)
    }

    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func load(arguments: [String],
                            environment: [String: String],
                            readFile: (String) -> String?) -> Result<Outcome, Failure> {
        // 1. Flags are parsed first (without applying) so --config and --help
        //    are known before anything else is read.
        var flagValues: [(ConfigOption, String)] = []
        var configPath = environment["HERALD_CONFIG"]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" {
                return .success(.help(helpText()))
            }
            guard argument.hasPrefix("--") else {
                return .failure(Failure(description: "unexpected argument '\(argument)' (see --help)"))
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "config" {
                guard let value = inlineValue ?? (index < arguments.count ? arguments[index] : nil) else {
                    return .failure(Failure(description: "--config needs a FILE"))
                }
                if inlineValue == nil { index += 1 }
                configPath = value
                continue
            }
            guard let option = ConfigOption.named(name) else {
                return .failure(Failure(description: "unknown flag '--\(name)' (see --help)"))
            }
            if option.isSwitch {
                flagValues.append((option, inlineValue ?? "true"))
                continue
            }
            guard let value = inlineValue ?? (index < arguments.count ? arguments[index] : nil) else {
                return .failure(Failure(description: "--\(name) needs a value (\(option.valueName ?? ""))"))
            }
            if inlineValue == nil { index += 1 }
            flagValues.append((option, value))
        }

        var config = Config()
        // 2. The file.
        if let configPath {
            guard let text = readFile(configPath) else {
                return .failure(Failure(description: "cannot read config file '\(configPath)'"))
            }
            switch parseFile(text) {
            case .failure(let failure):
                return .failure(Failure(description: "\(configPath): \(failure.description)"))
            case .success(let pairs):
                for (line, key, value) in pairs {
                    guard let option = ConfigOption.named(key) else {
                        return .failure(Failure(description: "\(configPath):\(line): unknown key '\(key)'"))
                    }
                    guard option.apply(&config, value) else {
                        return .failure(Failure(description: "\(configPath):\(line): bad value '\(value)' for \(key)"))
                    }
                }
            }
        }
        // 3. The environment.
        for option in ConfigOption.all {
            guard let value = environment[option.environmentName] else { continue }
            guard option.apply(&config, value) else {
                return .failure(Failure(description: "bad value '\(value)' in \(option.environmentName)"))
            }
        }
        // 4. Flags. A repeatable flag's values are applied once, together.
        var joined: [(ConfigOption, String)] = []
        for (option, value) in flagValues {
            if option.repeatable, let at = joined.firstIndex(where: { $0.0.name == option.name }) {
                joined[at].1 += "," + value
            } else {
                joined.append((option, value))
            }
        }
        for (option, value) in joined {
            guard option.apply(&config, value) else {
                return .failure(Failure(description: "bad value '\(value)' for --\(option.name)"))
            }
        }
        if let problem = validate(config) {
            return .failure(Failure(description: problem))
        }
        return .success(.run(config))
    }

    /// Cross-field rules that no single option can check.
    static func validate(_ config: Config) -> String? {
        if !config.adminListen.isLoopback && config.adminToken == nil {
            return "refusing to serve the admin API on non-loopback \(config.adminListen) without --admin-token"
        }
        return nil
    }

    /// `key = value` lines; `#` starts a comment; blank lines are skipped.
    static func parseFile(_ text: String) -> Result<[(line: Int, key: String, value: String)], Failure> {
        var pairs: [(Int, String, String)] = []
        // Split on any line ending: Swift treats "\r\n" as one Character,
        // so splitting on "\n" alone would swallow CRLF files whole.
        for (number, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = Substring(rawLine)
            // `#` starts a comment unless it is inside a "quoted value".
            var quoted = false
            if let hash = line.firstIndex(where: { character in
                if character == "\"" { quoted.toggle() }
                return character == "#" && !quoted
            }) {
                line = line[..<hash]
            }
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                return .failure(Failure(description: "line \(number + 1): expected 'key = value'"))
            }
            let key = trimmed[..<equals].trimmingWhitespace()
            var value = trimmed[trimmed.index(after: equals)...].trimmingWhitespace()
            if value.count >= 2, value.first == "\"", value.last == "\"" {
                value = value.dropFirst().dropLast()
            }
            pairs.append((number + 1, String(key), String(value)))
        }
        return .success(pairs)
    }

    public static func helpText() -> String {
        var text = """
            usage: herald [--flag VALUE ...]

            Herald — a WebSocket push gateway on io_uring.
            Every flag has an environment twin (HERALD_FLAG_NAME) and a config-file
            key (flag-name = value); flags win over the environment, which wins
            over the file.

              --config FILE                   read settings from FILE [HERALD_CONFIG]

            """
        for option in ConfigOption.all {
            let left = "  --\(option.name)" + (option.valueName.map { " \($0)" } ?? "")
            let padded = left.count < 34 ? left + String(repeating: " ", count: 34 - left.count) : left + " "
            text += padded + option.help + " [\(option.environmentName)]\n"
        }
        return text
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" || first == "\r" { result = result.dropFirst() }
        while let last = result.last, last == " " || last == "\t" || last == "\r" { result = result.dropLast() }
        return result
    }
}
