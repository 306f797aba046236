import Testing
@testable import HeraldCore

@Suite struct SendQueueLimitTests {
    @Test func emptyQueueTakesAnyPublish() {
        #expect(SendQueueLimit.admitPublish(cost: 5_000_000, queued: 0, limit: 1024) == .queue)
        #expect(SendQueueLimit.admitPublish(cost: 100, queued: 924, limit: 1024) == .queue)
        #expect(SendQueueLimit.admitPublish(cost: 101, queued: 924, limit: 1024) == .slowConsumer)
    }

    @Test func goingOverTheLimitIsReportedOnce() {
        #expect(SendQueueLimit.wentOverLimit(queued: 1025, limit: 1024, wasOverLimit: false))
        #expect(!SendQueueLimit.wentOverLimit(queued: 2000, limit: 1024, wasOverLimit: true))
        #expect(!SendQueueLimit.wentOverLimit(queued: 1024, limit: 1024, wasOverLimit: false))
    }

    @Test func readingResumesAtHalfTheLimit() {
        #expect(SendQueueLimit.afterDrain(queued: 1024, limit: 1024, readPaused: true)
                == .init(backUnderLimit: true, resumeReading: false))
        #expect(SendQueueLimit.afterDrain(queued: 512, limit: 1024, readPaused: true)
                == .init(backUnderLimit: true, resumeReading: true))
        #expect(SendQueueLimit.afterDrain(queued: 0, limit: 1024, readPaused: false)
                == .init(backUnderLimit: true, resumeReading: false))
        #expect(SendQueueLimit.afterDrain(queued: 1500, limit: 1024, readPaused: true)
                == .init(backUnderLimit: false, resumeReading: false))
    }
}
