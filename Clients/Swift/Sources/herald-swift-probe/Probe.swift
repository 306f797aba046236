import Foundation
import HeraldClient
import HeraldClientZstd

// herald-swift-probe URL TOPIC... [--token-file PATH] [--exit-after-messages N] [--zstd]
//
// Runs one HeraldClient and prints each event as one JSON line on stdout
// (for Tests/e2e/test_swift_client.py). With --token-file, the file is read
// before every connect and for every refresh: a test renews the token by
// rewriting it. Standard input's "unsubscribe T" / "subscribe T" lines are
// carried out; EOF closes the client.

@main
struct Probe {
    static func main() async {
        var arguments = Array(CommandLine.arguments.dropFirst())
        var tokenFile: String?
        var exitAfter = Int.max
        var zstd = false
        if let at = arguments.firstIndex(of: "--zstd") {
            zstd = true
            arguments.remove(at: at)
        }
        if let at = arguments.firstIndex(of: "--token-file"), at + 1 < arguments.count {
            tokenFile = arguments[at + 1]
            arguments.removeSubrange(at...(at + 1))
        }
        if let at = arguments.firstIndex(of: "--exit-after-messages"), at + 1 < arguments.count {
            exitAfter = Int(arguments[at + 1]) ?? .max
            arguments.removeSubrange(at...(at + 1))
        }
        guard let url = arguments.first else {
            FileHandle.standardError.write(Data("usage: herald-swift-probe URL TOPIC... [--token-file PATH]\n".utf8))
            exit(2)
        }
        let provider: HeraldClient.TokenProvider? = tokenFile.map { path in
            { @Sendable in
                try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        let client = HeraldClient(url: url, tokenProvider: provider, minimumDelay: .milliseconds(100),
                                  maximumDelay: .milliseconds(500), zstd: zstd ? LibzstdDecoder() : nil)
        for topic in arguments.dropFirst() { await client.subscribe(topic) }
        await client.connect()
        let input = Task.detached {
            while let line = readLine() {
                let words = line.split(separator: " ").map(String.init)
                guard words.count == 2 else { continue }
                if words[0] == "subscribe" { await client.subscribe(words[1]) }
                if words[0] == "unsubscribe" { await client.unsubscribe(words[1]) }
            }
            await client.close()
        }
        var messages = 0
        for await event in client.events {
            // One write per line, unbuffered: the test reads as it goes.
            FileHandle.standardOutput.write(Data((line(event) + "\n").utf8))
            if case .message = event {
                messages += 1
                if messages >= exitAfter { await client.close() }
            }
        }
        input.cancel()
    }

    static func line(_ event: HeraldEvent) -> String {
        func quoted(_ text: String) -> String {
            String(data: try! JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed]), encoding: .utf8)!
        }
        switch event {
        case .message(let message):
            switch message.payload {
            case .json(let data):
                return #"{"event":"message","topic":\#(quoted(message.topic)),"seq":\#(message.seq),"data":\#(String(decoding: data, as: UTF8.self))}"#
            case .binary(let data):
                return #"{"event":"message","topic":\#(quoted(message.topic)),"seq":\#(message.seq),"binary":\#(quoted(data.base64EncodedString()))}"#
            }
        case .gap(let topic, let from, let to):
            return #"{"event":"gap","topic":\#(quoted(topic)),"from":\#(from),"to":\#(to)}"#
        case .reset(let topic, let reason, let epoch, let seq):
            return #"{"event":"reset","topic":\#(quoted(topic)),"reason":\#(quoted(reason)),"epoch":\#(quoted(epoch)),"seq":\#(seq)}"#
        case .error(let code, let message, let topic):
            return #"{"event":"error","code":\#(quoted(code)),"message":\#(quoted(message)),"topic":\#(topic.map(quoted) ?? "null")}"#
        case .state(let state):
            switch state {
            case .connecting(let attempt): return #"{"event":"state","state":"connecting","attempt":\#(attempt)}"#
            case .connected: return #"{"event":"state","state":"connected"}"#
            case .disconnected(let code, let reason):
                return #"{"event":"state","state":"disconnected","code":\#(code.map(String.init) ?? "null"),"reason":\#(quoted(reason ?? ""))}"#
            case .closed: return #"{"event":"state","state":"closed"}"#
            }
        }
    }
}
