import Testing
@testable import HeraldEngine

@Suite struct CounterTests {
    @Test func everyCounterHasAUniqueNameAndLabelValue() {
        var seen: [String: Counter] = [:]
        for counter in Counter.allCases {
            let metric = counter.metric
            let key = metric.name + "|" + (metric.value ?? "")
            #expect(seen[key] == nil, "\(counter) repeats \(key) of \(String(describing: seen[key]))")
            seen[key] = counter
        }
        #expect(seen.count == Counter.allCases.count)
    }

    @Test func labelNameAndValueComeTogether() {
        for counter in Counter.allCases {
            let metric = counter.metric
            #expect((metric.label == nil) == (metric.value == nil), "\(counter)")
        }
    }

    @Test func oneLabelNameAndOneHelpPerFamily() {
        var families: [String: (label: String?, help: String)] = [:]
        for counter in Counter.allCases {
            let metric = counter.metric
            if let family = families[metric.name] {
                #expect(family.label == metric.label, "\(counter)")
                #expect(family.help == metric.help, "\(counter)")
            } else {
                families[metric.name] = (metric.label, metric.help)
            }
        }
        #expect(families["closes_total"]?.label == "code")
        #expect(families["handshakes_failed_total"]?.label == "reason")
    }

    @Test func namesAreValidPrometheusCounterNames() {
        for counter in Counter.allCases {
            let metric = counter.metric
            #expect(metric.name.hasSuffix("_total"), "\(counter): counters end in _total")
            #expect(metric.name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) },
                    "\(counter)")
            #expect(!metric.help.isEmpty, "\(counter)")
            #expect(!metric.help.contains("\n"), "\(counter)")
        }
    }

    @Test func rawValuesAreDenseIndices() {
        // ShardCounters indexes its storage by rawValue.
        #expect(Counter.allCases.map(\.rawValue) == Array(0..<Counter.allCases.count))
    }

    @Test(arguments: [(UInt16(1000), Counter.close1000), (1001, .close1001), (1002, .close1002),
                      (1003, .close1003), (1006, .close1006), (1007, .close1007), (1008, .close1008),
                      (1009, .close1009), (1011, .close1011), (1004, .closeOther), (1005, .closeOther),
                      (1010, .closeOther), (3000, .closeOther), (4999, .closeOther), (0, .closeOther)])
    func closeCodesMapToTheirCounter(code: UInt16, counter: Counter) {
        #expect(Counter.forClose(code) == counter)
    }

    @Test func closeCounterLabelIsTheCode() {
        for code: UInt16 in [1000, 1001, 1002, 1003, 1006, 1007, 1008, 1009, 1011] {
            let metric = Counter.forClose(code).metric
            #expect(metric.name == "closes_total")
            #expect(metric.value == String(code))
        }
        #expect(Counter.closeOther.metric.value == "other")
    }

    @Test func shardCountersStartAtZeroAndAdd() {
        let counters = ShardCounters(rings: 2)
        #expect(counters.rings == 2)
        for counter in Counter.allCases { #expect(counters.value(counter) == 0) }
        counters.add(.bytesSent, 100)
        counters.add(.bytesSent)
        counters.add(.gapsSent)
        #expect(counters.value(.bytesSent) == 101)
        #expect(counters.value(.gapsSent) == 1)
        #expect(counters.value(.bytesReceived) == 0)
    }
}
