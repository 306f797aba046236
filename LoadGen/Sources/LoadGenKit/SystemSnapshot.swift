import Foundation

/// Process and kernel memory/CPU figures read from /proc.
public struct ProcessSample: Sendable, Equatable {
    public var rssBytes: Int
    public var userSeconds: Double
    public var systemSeconds: Double

    /// `/proc/PID/status` VmRSS and `/proc/PID/stat` utime/stime (fields 14, 15, in clock ticks).
    public static func read(pid: Int32) -> ProcessSample? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return nil }
        return parse(status: status, stat: stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
    }

    public static func parse(status: String, stat: String, ticksPerSecond: Double) -> ProcessSample? {
        guard let rssKiB = kibValue(named: "VmRSS:", in: status) else { return nil }
        // The command name (field 2) may contain spaces: count fields after its ')'.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After ')': state is field 3, so utime (14) and stime (15) are at 11 and 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return ProcessSample(rssBytes: rssKiB * 1024, userSeconds: user / ticksPerSecond,
                             systemSeconds: system / ticksPerSecond)
    }

    static func kibValue(named name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }
}

/// Kernel memory: slab (sockets, inodes, dentries) and TCP buffer pages.
public struct KernelSample: Sendable, Equatable {
    public var slabBytes: Int
    public var slabUnreclaimableBytes: Int
    /// `/proc/net/sockstat` "TCP: … mem N" (pages of socket buffers).
    public var tcpMemoryPages: Int
    public var tcpInUse: Int

    public static func read() -> KernelSample {
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let sockstat = (try? String(contentsOfFile: "/proc/net/sockstat", encoding: .utf8)) ?? ""
        return parse(meminfo: meminfo, sockstat: sockstat)
    }

    public static func parse(meminfo: String, sockstat: String) -> KernelSample {
        var sample = KernelSample(slabBytes: (ProcessSample.kibValue(named: "Slab:", in: meminfo) ?? 0) * 1024,
                                  slabUnreclaimableBytes: (ProcessSample.kibValue(named: "SUnreclaim:", in: meminfo) ?? 0) * 1024,
                                  tcpMemoryPages: 0, tcpInUse: 0)
        for line in sockstat.split(separator: "\n") where line.hasPrefix("TCP:") {
            let words = line.split(separator: " ")
            for (index, word) in words.enumerated() where index + 1 < words.count {
                if word == "mem" { sample.tcpMemoryPages = Int(words[index + 1]) ?? 0 }
                if word == "inuse" { sample.tcpInUse = Int(words[index + 1]) ?? 0 }
            }
        }
        return sample
    }
}
