/// `{"topic":"T","seq":N,"epoch":"E"}`: one publish's result (CONTRACT
/// "Admin listener"), the answer to a single publish and each result of a
/// batch's answer.
public enum PublishResult {
    /// Appends the result to `out`. Topic names and local epochs need no
    /// escape, so the result's length is known: it is written whole and
    /// appended in one copy (`ByteWriter.append`). Appending its six pieces
    /// one by one was ~1,000 instructions per batch line (callgrind; issue
    /// 12). Anything that does need escaping (an epoch read from Redis
    /// could) takes the escaping path. `out` grows as an array appended to does (never a
    /// reservation of exactly this result: a batch's results follow one
    /// another in one body, which would then be copied at every line).
    public static func append(topic: String, seq: UInt64, epoch: String, to out: inout [UInt8]) {
        var topic = topic
        var epoch = epoch
        let written = topic.withUTF8 { name in
            epoch.withUTF8 { epochBytes -> Bool in
                guard !name.contains(where: JSONString.needsEscape),
                      !epochBytes.contains(where: JSONString.needsEscape) else { return false }
                let count = head.utf8CodeUnitCount + name.count + seqKey.utf8CodeUnitCount + JSONNumber.digitCount(seq)
                    + epochKey.utf8CodeUnitCount + epochBytes.count + tail.utf8CodeUnitCount
                ByteWriter.append(count: count, to: &out) { writer in
                    writer.write(head)
                    writer.write(UnsafeRawBufferPointer(name))
                    writer.write(seqKey)
                    JSONNumber.write(seq, to: &writer)
                    writer.write(epochKey)
                    writer.write(UnsafeRawBufferPointer(epochBytes))
                    writer.write(tail)
                }
                return true
            }
        }
        guard !written else { return }
        JSONString.appendLiteral(#"{"topic":"#, to: &out)
        JSONString.append(topic.utf8, to: &out)
        JSONString.appendLiteral(#","seq":"#, to: &out)
        JSONNumber.append(seq, to: &out)
        JSONString.appendLiteral(#","epoch":"#, to: &out)
        JSONString.append(epoch.utf8, to: &out)
        out.append(UInt8(ascii: "}"))
    }

    static let head: StaticString = #"{"topic":""#
    static let seqKey: StaticString = #"","seq":"#
    static let epochKey: StaticString = #","epoch":""#
    static let tail: StaticString = #""}"#
}
