import Testing
@testable import HeraldProtocol

/// Every transition of `ConnectionLifecycle`, no socket needed.
@Suite struct ConnectionLifecycleTests {
    static func open() -> ConnectionLifecycle {
        var life = ConnectionLifecycle()
        life.reserved()
        life.accepted()
        life.upgraded()
        return life
    }

    @Test func openingPath() {
        var life = ConnectionLifecycle()
        #expect(life.state == .free && life.timerMeaning == .none)
        life.reserved()
        #expect(life.state == .accepting)
        life.accepted()
        #expect(life.state == .handshaking && life.timerMeaning == .handshakeTimedOut && life.readsInput)
        #expect(!life.acceptsData)
        life.upgraded()
        #expect(life.state == .open && life.flags.contains(.upgraded) && life.timerMeaning == .liveness)
        #expect(life.acceptsData && life.readsInput)
    }

    @Test func httpAnswerEndsAfterItIsSent() {
        var life = ConnectionLifecycle()
        life.reserved()
        life.accepted()
        life.answeredHTTP()
        #expect(life.state == .closing && !life.readsInput && life.timerMeaning == .closeTimedOut)
        let outcome1 = life.drained(receiving: true)
        #expect(outcome1 == .halfClose)
        let outcome2 = life.drained(receiving: true)
        #expect(outcome2 == .none, "the drain acts once")
    }

    @Test func peerStartsTheClose() {
        var life = Self.open()
        let outcome3 = life.peerClosed(code: .normal)
        #expect(outcome3 == .reply(.normal))
        #expect(life.state == .closing && !life.readsInput && !life.acceptsData)
        // Our echo is out and the peer's close is in: end now (no half-close).
        let outcome4 = life.drained(receiving: true)
        #expect(outcome4 == .tearDown)
    }

    @Test func weStartTheCloseAndThePeerAnswers() {
        var life = Self.open()
        let outcome5 = life.initiateClose()
        #expect(outcome5)
        let outcome6 = life.initiateClose()
        #expect(!outcome6, "one close frame only")
        #expect(life.state == .closing && life.readsInput, "we keep reading for the peer's close")
        let outcome7 = life.drained(receiving: true)
        #expect(outcome7 == .none, "initiated closes wait for the peer")
        let outcome8 = life.peerClosed(code: .goingAway)
        #expect(outcome8 == .tearDown)
    }

    @Test func failingSendsOneCloseAndReadsNothingMore() {
        var life = Self.open()
        let outcome9 = life.fail()
        #expect(outcome9)
        #expect(!life.readsInput && life.state == .closing)
        let outcome10 = life.fail()
        #expect(!outcome10, "a second violation queues nothing")
        let outcome11 = life.drained(receiving: false)
        #expect(outcome11 == .tearDown, "no receive armed: nothing to linger for")
    }

    @Test func failAfterAnInitiatedCloseStopsInput() {
        var life = Self.open()
        _ = life.initiateClose()
        let outcome12 = life.fail()
        #expect(!outcome12)
        #expect(!life.readsInput)
    }

    @Test(arguments: [
        (ConnectionLifecycle.State.handshaking, ConnectionLifecycle.EndAction.tearDownHandshake),
        (.open, .tearDownAbnormal), (.closing, .tearDown),
    ])
    func peerEndedByState(state: ConnectionLifecycle.State, action: ConnectionLifecycle.EndAction) {
        var life = ConnectionLifecycle()
        life.reserved()
        life.accepted()
        if state == .open || state == .closing { life.upgraded() }
        if state == .closing { _ = life.initiateClose() }
        #expect(life.state == state)
        #expect(life.peerEnded() == action)
    }

    @Test func teardownHappensOnceAndCountsTheUpgradeOnce() {
        var life = Self.open()
        let first = life.tearDown()
        #expect(first.begin && first.wasUpgraded)
        #expect(life.state == .tearingDown && !life.readsInput && life.timerMeaning == .none)
        let second = life.tearDown()
        #expect(!second.begin && !second.wasUpgraded)
        #expect(life.peerEnded() == .finishIfIdle)
        #expect(!life.canFree(pendingOperations: 1))
        #expect(life.canFree(pendingOperations: 0))
        life.freed()
        #expect(life == ConnectionLifecycle())
    }

    @Test func handshakeTeardownIsNotAnUpgradedClose() {
        var life = ConnectionLifecycle()
        life.reserved()
        life.accepted()
        let outcome13 = life.tearDown()
        #expect(outcome13.begin, "a handshaking connection is torn down")
    }

    @Test func freeSlotsCannotBeTornDown() {
        var life = ConnectionLifecycle()
        let outcome14 = life.tearDown()
        #expect(outcome14.begin == false)
        #expect(!life.canFree(pendingOperations: 0), "only a torn-down slot is freed this way")
    }

    @Test func eventsAfterTeardownDoNothing() {
        var life = Self.open()
        _ = life.tearDown()
        let failed = life.fail()
        let initiated = life.initiateClose()
        let peer = life.peerClosed(code: .normal)
        let drained = life.drained(receiving: true)
        life.answeredHTTP()
        #expect(!failed && !initiated && peer == .tearDown && drained == .none)
        #expect(life.state == .tearingDown, "no event brings a torn-down slot back")
    }

    @Test func fitsInTwoBytes() {
        #expect(MemoryLayout<ConnectionLifecycle>.size == 2)
    }
}
