import Glibc

/// The process's environment, files and exit, without Foundation (keeps the
/// binary small and its start-up fast).
public enum ProcessEnvironment {
    public static func variables() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }

    /// The directory of the running executable (`/proc/self/exe`), nil when
    /// it cannot be read.
    public static func executableDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let path = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    /// A whole text file (a config file), nil when it cannot be read.
    public static func readFile(_ path: String) -> String? {
        readBytes(path, bytesMax: Int.max).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A whole file's bytes (a key file), nil when it cannot be read or is
    /// longer than `bytesMax`.
    public static func readBytes(_ path: String, bytesMax: Int) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes += chunk[0..<count]
            if bytes.count > bytesMax { return nil }
        }
        return ferror(file) == 0 ? bytes : nil
    }

    /// Ends the process with `status` (stdio flushed).
    public static func exit(_ status: Int32) -> Never { Glibc.exit(status) }

    /// The host's name (a cluster node's default id), "herald" if unknown.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "herald" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "herald" : name
    }

    public static func processID() -> Int32 { getpid() }
}
