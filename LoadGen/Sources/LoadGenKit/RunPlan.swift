import Synchronization

/// Flags shared by the runner and the workers.
public final class RunControl: Sendable {
    public let stopWorkers = Atomic<Bool>(false)
    let churnStart = Atomic<UInt64>(0)
    /// `--recover`: when the subscribers were told to drop (0 = not yet).
    let recoverDrop = Atomic<UInt64>(0)

    public init() {}

    var churnStartNanoseconds: UInt64? {
        let value = churnStart.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }
}

/// Derived, immutable facts of a run shared by every worker.
struct RunPlan: Sendable {
    let totalConnections: Int
    let ringCount: Int
    let topicNames: [String]
    let startNanoseconds: UInt64
    /// Every `slowStride`-th client stops reading (slow scenario), 0 = none.
    let slowStride: Int
    let control: RunControl

    init(options: Options, startNanoseconds: UInt64, control: RunControl) {
        totalConnections = options.connections
        ringCount = options.ringCount
        topicNames = (0..<options.topics).map { "t\($0)" }
        self.startNanoseconds = startNanoseconds
        if options.scenario == .slow, options.slowFraction > 0 {
            slowStride = max(1, Int((1 / options.slowFraction).rounded()))
        } else {
            slowStride = 0
        }
        self.control = control
    }

    /// Connections that live on global ring `ring` (c % ringCount == ring).
    func connections(onRing ring: Int) -> Int {
        totalConnections > ring ? (totalConnections - ring + ringCount - 1) / ringCount : 0
    }

    func isSlow(_ id: Int) -> Bool { slowStride > 0 && id % slowStride == 0 }
}
