import Foundation
import Glibc
import Histogram
import Synchronization

/// Ctrl-C: the handler only sets a flag; every wait below polls it.
enum Interrupt {
    static let requested = Atomic<Bool>(false)

    static func install() {
        _ = requested.load(ordering: .relaxed)  // initialise before the handler can run
        signal(SIGINT) { _ in Interrupt.requested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in Interrupt.requested.store(true, ordering: .relaxed) }
    }

    static var isRequested: Bool { requested.load(ordering: .relaxed) }
}

public enum LoadGenMain {
    /// Parses, runs, reports; returns the exit status.
    public static func run(arguments: [String]) -> Int32 {
        let options: Options
        do {
            guard let parsed = try OptionsParser.parse(arguments) else {
                print(OptionsParser.help)
                return 0
            }
            options = parsed
        } catch {
            FileHandle.standardError.write(Data("herald-loadgen: \(error)\n".utf8))
            return 2
        }
        Interrupt.install()
        do {
            let report = try Runner(options: options).run()
            print(report.summary, terminator: "")
            if let path = options.jsonPath {
                try report.json.write(toFile: path, atomically: true, encoding: .utf8)
            }
            return report.succeeded ? 0 : 1
        } catch {
            FileHandle.standardError.write(Data("herald-loadgen: \(error)\n".utf8))
            return 1
        }
    }
}

/// Drives one run: ramp, scenario, samples, report.
final class Runner {
    let options: Options
    let control = RunControl()
    var workers: [ClientWorker] = []
    let start = Clock.nanoseconds()
    var lastProgress: (time: UInt64, connected: Int, deliveries: Int) = (0, 0, 0)

    init(options: Options) { self.options = options }

    func progress(_ phase: String) {
        let now = Clock.nanoseconds()
        let connected = workers.reduce(0) { $0 + $1.counters.connected.load(ordering: .relaxed) }
        let open = workers.reduce(0) { $0 + $1.counters.open.load(ordering: .relaxed) }
        let errors = workers.reduce(0) { $0 + $1.counters.errorTotal }
        let deliveries = workers.reduce(0) { $0 + $1.counters.deliveries.load(ordering: .relaxed) }
        let seconds = Double(now - lastProgress.time) / 1e9
        let rate = seconds > 0 ? Int(Double(connected - lastProgress.connected) / seconds) : 0
        let deliveryRate = seconds > 0 ? Int(Double(deliveries - lastProgress.deliveries) / seconds) : 0
        lastProgress = (now, connected, deliveries)
        guard !options.quiet else { return }
        let elapsed = (Double(now - start) / 1e8).rounded() / 10
        FileHandle.standardError.write(Data(("[\(elapsed)s] \(phase) connected \(connected)/\(options.connections) "
            + "open \(open) rate \(rate)/s errors \(errors) deliveries \(deliveries) (\(deliveryRate)/s)\n").utf8))
    }

    /// Waits up to `seconds`, printing progress every second, until `done`.
    func wait(seconds: Double, phase: String, until done: () -> Bool) {
        let deadline = Clock.nanoseconds() + UInt64(seconds * 1e9)
        var nextPrint = Clock.nanoseconds() + 1_000_000_000
        while Clock.nanoseconds() < deadline, !Interrupt.isRequested, !done() {
            Clock.sleep(seconds: 0.05)
            if Clock.nanoseconds() >= nextPrint {
                progress(phase)
                nextPrint += 1_000_000_000
            }
        }
    }

    func sum(_ value: (WorkerCounters) -> Int) -> Int { workers.reduce(0) { $0 + value($1.counters) } }

    func run() throws -> Report {
        var report = Report(scenario: options.scenario, connectionsTarget: options.connections)
        report.rings = options.ringCount
        report.threads = options.threads
        report.serverPID = options.serverPID
        report.serverStart = options.serverPID.flatMap { ProcessSample.read(pid: $0) }
        report.kernelStart = KernelSample.read()
        let plan = RunPlan(options: options, startNanoseconds: Clock.nanoseconds(), control: control)
        for id in 0..<min(options.threads, plan.ringCount) {
            workers.append(try ClientWorker(id: id, options: options, plan: plan))
        }
        lastProgress.time = Clock.nanoseconds()
        for worker in workers { worker.start() }
        for worker in workers {
            // Bounded: ring set-up takes milliseconds; 30 s means something is wrong.
            for _ in 0..<3_000 where worker.setUpResult.withLock({ $0 == nil }) { Clock.sleep(seconds: 0.01) }
            if case .failure(let error) = worker.setUpResult.withLock({ $0 }) {
                control.stopWorkers.store(true, ordering: .relaxed)
                throw error
            }
        }

        // Ramp: until every client is upgraded or failed, or the ramp times out.
        wait(seconds: options.effectiveRampTimeoutSeconds, phase: "ramp") {
            sum { $0.connected.load(ordering: .relaxed) } + sum { $0.errorTotal } >= options.connections
        }
        let rampEnd = Clock.nanoseconds()
        report.rampSeconds = Double(rampEnd - plan.startNanoseconds) / 1e9
        report.connectedTotal = sum { $0.connected.load(ordering: .relaxed) }
        progress("ramp done")
        // Let the server settle (RSS of lazily touched pages) before the peak sample.
        wait(seconds: options.settleSeconds, phase: "settle") { false }
        report.connectionsReached = sum { $0.open.load(ordering: .relaxed) }
        report.serverPeak = options.serverPID.flatMap { ProcessSample.read(pid: $0) }
        report.kernelPeak = KernelSample.read()
        report.loadgenPeak = ProcessSample.read(pid: getpid())

        var deliveryStart = Clock.nanoseconds()
        var deliveryEnd = deliveryStart
        switch options.scenario {
        case .hold:
            wait(seconds: options.durationSeconds, phase: "hold") { false }
        case .churn:
            control.churnStart.store(Clock.nanoseconds(), ordering: .relaxed)
            wait(seconds: options.durationSeconds, phase: "churn") { false }
        case .fanout, .slow, .publish:
            // fanout/slow: one paced publisher with retries; publish: the
            // pipelined, multi-connection driver.
            let driver = options.scenario == .publish ? try PublishDriver(options: options) : nil
            let publisher = driver == nil ? try Publisher(options: options, control: control) : nil
            if !options.quiet, let driver {
                print("publishing \(options.messages) messages to \(options.publishURL) over \(driver.publishers) "
                      + "connection(s), \(driver.pipeline) request(s) in flight each, "
                      + (driver.batch > 0 ? "\(driver.batch) per batch request" : "one per request")
                      + (options.publishRatePerSecond > 0 ? ", \(options.publishRatePerSecond)/s" : ", unpaced"))
            } else if !options.quiet {
                print("publishing \(options.messages) messages to \(options.publishURL) "
                      + "(\(options.publishRatePerSecond)/s, Idempotency-Key on each, retried up to "
                      + "\(Publisher.attemptsMax) times)")
            }
            let published = { publisher?.published.load(ordering: .relaxed) ?? driver!.published.load(ordering: .relaxed) }
            deliveryStart = Clock.nanoseconds()
            report.publishServerStart = options.serverPID.flatMap { ProcessSample.read(pid: $0) }
            publisher?.start()
            driver?.start()
            // The publisher's own pacing bounds this; the timeout is a backstop.
            let publishSeconds = options.publishRatePerSecond > 0
                ? Double(options.messages) / options.publishRatePerSecond : Double(options.messages) / 1_000
            wait(seconds: publishSeconds * 2 + 30, phase: "publish") {
                watchRecovery(&report, published: published())
                return publisher?.finished.load(ordering: .acquiring) ?? driver!.finished
            }
            publisher?.stop.store(true, ordering: .relaxed)
            driver?.stop.store(true, ordering: .relaxed)
            let publishEnd = Clock.nanoseconds()
            // Planned deliveries: every message to every reader of its topic.
            let readers = sum { $0.open.load(ordering: .relaxed) } - workers.reduce(0) { $0 + $1.slowEstimate }
            let planned = options.messages * max(0, readers) / options.topics
            var stagnantSince = Clock.nanoseconds()
            var last = -1
            wait(seconds: options.durationSeconds, phase: "drain") {
                let now = sum { $0.deliveries.load(ordering: .relaxed) }
                if now != last {
                    last = now
                    stagnantSince = Clock.nanoseconds()
                    deliveryEnd = stagnantSince
                }
                let recovering = watchRecovery(&report, published: Int.max)
                // Done when all planned arrived (and every dropped client
                // caught up), or nothing arrived for 3 s.
                return (now >= planned && !recovering) || Clock.nanoseconds() - stagnantSince > 3_000_000_000
            }
            report.publishServerEnd = options.serverPID.flatMap { ProcessSample.read(pid: $0) }
            report.messagesPublished = published()
            report.publishFailures = publisher?.failed.load(ordering: .relaxed) ?? driver!.failed.load(ordering: .relaxed)
            report.publishRetries = publisher?.retried.load(ordering: .relaxed) ?? 0
            if let driver {
                // The threads have finished (or were told to stop): their
                // histograms are no longer written.
                var roundTrips = Histogram<UInt64>(highestTrackableValue: 120_000_000_000,
                                                   numberOfSignificantValueDigits: .three)
                for histogram in driver.latencies { roundTrips.add(histogram) }
                report.publishing = PublishingReport(
                    publishers: driver.publishers, pipeline: driver.pipeline, batch: driver.batch,
                    requests: driver.requests.load(ordering: .relaxed),
                    publishSeconds: Double(publishEnd - deliveryStart) / 1e9,
                    roundTrip: LatencySummary(roundTrips))
            }
        }
        report.interrupted = Interrupt.isRequested
        report.serverEnd = options.serverPID.flatMap { ProcessSample.read(pid: $0) }
        control.stopWorkers.store(true, ordering: .relaxed)
        for worker in workers { worker.join() }
        // An interrupted run can leave deliveryEnd before deliveryStart.
        finish(&report, deliverySeconds: Double(max(deliveryEnd, deliveryStart) - deliveryStart) / 1e9)
        report.durationSeconds = Double(Clock.nanoseconds() - start) / 1e9
        return report
    }

    /// `--recover`: tells the workers to drop every subscriber once
    /// `published` reaches the option, and samples the server's CPU then
    /// and when every dropped client has caught up (or been refused).
    /// Returns whether a recovery is still under way.
    @discardableResult
    func watchRecovery(_ report: inout Report, published: Int) -> Bool {
        guard let after = options.recoverAfter else { return false }
        if control.recoverDrop.load(ordering: .relaxed) == 0 {
            guard published >= after else { return false }
            report.recoverServerStart = options.serverPID.flatMap { ProcessSample.read(pid: $0) }
            control.recoverDrop.store(Clock.nanoseconds(), ordering: .relaxed)
            if !options.quiet { print("dropping every subscriber after \(after) publishes; they reconnect with since") }
            return true
        }
        guard report.recoverServerEnd == nil else { return false }
        // Every worker has dropped (each does so on its next turn) …
        let droppedAll = workers.allSatisfy { $0.counters.recoverDropped.load(ordering: .relaxed) > 0
            || $0.counters.open.load(ordering: .relaxed) == 0 }
        let dropped = sum { $0.recoverDropped.load(ordering: .relaxed) }
        let settled = sum { $0.recovered.load(ordering: .relaxed) } + sum { $0.errors(.recoveryRefused) }
        guard droppedAll, dropped > 0, settled >= dropped else { return true }
        // … and every dropped client caught up with the seam or was refused.
        report.recoverServerEnd = options.serverPID.flatMap { ProcessSample.read(pid: $0) } ?? ProcessSample(
            rssBytes: 0, userSeconds: 0, systemSeconds: 0)
        return false
    }

    /// Merges the workers' results (they have stopped: plain reads are safe).
    func finish(_ report: inout Report, deliverySeconds: Double) {
        report.errors = ErrorKind.allCases.map { kind in (kind.name, workers.reduce(0) { $0 + $1.counters.errors(kind) }) }
        report.pingsAnswered = sum { $0.pingsAnswered.load(ordering: .relaxed) }
        report.churnClosed = sum { $0.churnClosed.load(ordering: .relaxed) }
        report.slowClosedByServer = sum { $0.slowClosedByServer.load(ordering: .relaxed) }
        report.receiveBufferStarved = sum { $0.receiveBufferStarved.load(ordering: .relaxed) }
        report.codec = options.codec
        report.payloadBytesReceived = sum { $0.payloadBytesReceived.load(ordering: .relaxed) }
        report.payloadBytesDecoded = sum { $0.payloadBytesDecoded.load(ordering: .relaxed) }
        report.zstdDictionaries = sum { $0.zstdDictionaries.load(ordering: .relaxed) }
        report.zstdDictionaryBytes = sum { $0.zstdDictionaryBytes.load(ordering: .relaxed) }
        report.deliveries = sum { $0.deliveries.load(ordering: .relaxed) }
        report.gapsAnnounced = sum { $0.gapsAnnounced.load(ordering: .relaxed) }
        if options.recoverAfter != nil {
            var recoveryTime = Histogram<UInt64>(highestTrackableValue: 120_000_000_000,
                                                 numberOfSignificantValueDigits: .three)
            for worker in workers { recoveryTime.add(worker.recoveryTime) }
            let dropped = control.recoverDrop.load(ordering: .relaxed)
            let last = workers.reduce(UInt64(0)) { max($0, $1.lastRecoveredNanoseconds) }
            report.recovery = RecoveryReport(
                after: options.recoverAfter ?? 0,
                dropped: sum { $0.recoverDropped.load(ordering: .relaxed) },
                rejoined: sum { $0.rejoined.load(ordering: .relaxed) },
                recovered: sum { $0.recovered.load(ordering: .relaxed) },
                refused: sum { $0.errors(.recoveryRefused) },
                replayed: sum { $0.replayed.load(ordering: .relaxed) },
                allRecoveredSeconds: dropped > 0 && last > dropped ? Double(last - dropped) / 1e9 : 0,
                perClient: LatencySummary(recoveryTime),
                serverStart: report.recoverServerStart,
                serverEnd: report.recoverServerEnd.flatMap { $0.rssBytes > 0 ? $0 : nil })
        }
        guard [.fanout, .slow, .publish].contains(options.scenario) else { return }
        var latency = Histogram<UInt64>(highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
        var perMessage = Histogram<UInt64>(highestTrackableValue: 120_000_000_000, numberOfSignificantValueDigits: .three)
        var readers = Array(repeating: 0, count: options.topics)
        var readersEver = Array(repeating: 0, count: options.topics)
        for worker in workers {
            latency.add(worker.latency)
            for topic in 0..<options.topics {
                readers[topic] += worker.readersPerTopic[topic]
                readersEver[topic] += worker.readersEverPerTopic[topic]
            }
        }
        for message in 0..<min(options.messages, report.messagesPublished + report.publishFailures) {
            let last = workers.reduce(UInt64(0)) { max($0, $1.messageLastLatency[message]) }
            if workers.contains(where: { $0.messageDeliveries[message] > 0 }) {
                _ = perMessage.record(min(last, perMessage.highestTrackableValue))
            }
        }
        // Expected: each published message once per reader of its topic still
        // open at the end (a reader the server closed is an error, counted).
        report.deliveriesExpected = (0..<report.messagesPublished).reduce(0) { $0 + readers[$1 % options.topics] }
        // No connection can get a message twice (the seq checks see that);
        // together they get at most every message once per reader that ever
        // upgraded. More means something was delivered that was never published.
        report.deliveriesUpperBound = (0..<report.messagesPublished).reduce(0) { $0 + readersEver[$1 % options.topics] }
        let stride = RunPlan(options: options, startNanoseconds: 0, control: control).slowStride
        report.slowConnections = stride > 0 ? (options.connections + stride - 1) / stride : 0
        report.latency = LatencySummary(latency)
        report.lastSubscriberLatency = LatencySummary(perMessage)
        report.deliverySeconds = deliverySeconds
    }
}

extension ClientWorker {
    /// Slow clients this worker has upgraded (approximate while running).
    var slowEstimate: Int {
        plan.slowStride > 0 ? counters.open.load(ordering: .relaxed) / plan.slowStride : 0
    }
}
