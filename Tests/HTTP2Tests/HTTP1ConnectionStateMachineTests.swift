@testable import HTTP2
import NIOCore
import Testing

/// The HTTP/1.1 connection's decisions without a socket: every state and the transitions between them, as
/// ``HTTP1ConnectionHandler`` drives them.
@Suite("HTTP/1.1 connection state machine")
struct HTTP1ConnectionStateMachineTests {
    typealias Machine = HTTP1ConnectionStateMachine
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    static func machine(acceptsH2C: Bool = true) -> Machine {
        var machine = Machine(
            maximumHeaderBytes: 16 * 1024, acceptsH2C: acceptsH2C, timeouts: TimeoutAmounts(HTTPServerConfiguration.Limits()), now: start
        )
        machine.started(at: start)
        return machine
    }

    static func head(
        keepAlive: Bool = true, minorVersion: Int = 1, size: Int = 100, contentLength: Int? = nil, bodyLimit: Int = 1000,
        streamsBody: Bool = false, asksToUpgrade: Bool = false, offersH2C: Bool = false
    ) -> Machine.Head {
        Machine.Head(
            keepAlive: keepAlive, minorVersion: minorVersion, size: size, contentLength: contentLength, bodyLimit: bodyLimit,
            streamsBody: streamsBody, asksToUpgrade: asksToUpgrade, offersH2C: offersH2C
        )
    }

    /// A request without a body from its first byte to its dispatch, as one read.
    static func receiveRequest(_ machine: inout Machine, _ head: Machine.Head = head(), at now: NIODeadline = at(1)) {
        machine.bytesArrived(at: now)
        check(machine.partArrived())
        checkEqual(machine.head(head, at: now), .collectBody)
        check(machine.partArrived())
        checkEqual(machine.end(streamedBody: false), .dispatch)
    }

    /// A byte response to the request in flight; returns what follows it.
    static func respond(_ machine: inout Machine, at now: NIODeadline = at(2)) -> Machine.AfterResponse {
        check(machine.responseReady())
        _ = machine.responseEnding(at: now)
        return machine.responseEnded(abandonedBody: false)
    }

    // MARK: A connection's life

    @Test func aNewConnectionWaitsForItsFirstRequestTheHeaderTimeout() {
        var machine = Self.machine()
        checkEqual(machine.state, .idle(waitingForBytes: true))
        checkEqual(machine.timer.reason, .header)
        checkEqual(machine.tick(at: Self.at(9)), .none)
        checkEqual(machine.tick(at: Self.at(10)), .answerTimeout(.header))
        checkEqual(machine.state, .responding(producing: false))
        check(!machine.keepAlive)
        checkEqual(machine.persistence, .close)
    }

    @Test func keepAliveServesRequestsOneAfterAnother() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        checkEqual(machine.state, .responding(producing: false))
        check(machine.timer.reason == nil, "no timeout runs while the handler works")
        checkEqual(machine.dispatched, 1)
        check(machine.stillAnswering(1))
        checkEqual(machine.persistence, .unsaid)
        check(machine.responseReady())
        check(!machine.stillAnswering(1))
        check(machine.responseEnding(at: Self.at(2)))
        checkEqual(machine.state, .idle(waitingForBytes: true))
        checkEqual(machine.timer.reason, .idle)
        checkEqual(machine.responseEnded(abandonedBody: false), .nextRequest(resumeParsing: false))
        Self.receiveRequest(&machine, at: Self.at(3))
        checkEqual(machine.dispatched, 2)
        checkEqual(Self.respond(&machine), .nextRequest(resumeParsing: false))
    }

    @Test func anIdleKeepAliveConnectionClosesAfterTheIdleTimeout() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        _ = Self.respond(&machine, at: Self.at(2))
        checkEqual(machine.tick(at: Self.at(76)), .none)
        checkEqual(machine.tick(at: Self.at(77)), .close)
    }

    /// Idle means nothing left to send either: a response still going out to a slow reader keeps the
    /// connection (the stall watch judges the reader).
    @Test func theIdleTimeoutWaitsForAResponseStillDraining() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        _ = Self.respond(&machine, at: Self.at(2))
        machine.drainBegan(at: Self.at(2))
        checkEqual(machine.tick(at: Self.at(77)), .none)
        checkEqual(machine.timer.reason, .idle)
        machine.drainCompleted(at: Self.at(100))
        checkEqual(machine.tick(at: Self.at(152)), .close)
    }

    /// The first byte of the next request starts the header timeout (slowloris), which answers 408.
    @Test func theFirstByteOfARequestStartsItsHeaderTimeout() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        _ = Self.respond(&machine, at: Self.at(2))
        machine.bytesArrived(at: Self.at(5))
        checkEqual(machine.state, .idle(waitingForBytes: false))
        checkEqual(machine.timer.reason, .header)
        checkEqual(machine.tick(at: Self.at(15)), .answerTimeout(.header))
    }

    @Test func aBodyNotReceivedInTimeAnswers408() {
        var machine = Self.machine()
        machine.bytesArrived(at: Self.at(1))
        check(machine.partArrived())
        checkEqual(machine.head(Self.head(contentLength: 10), at: Self.at(1)), .collectBody)
        checkEqual(machine.state, .receiving(.init(limit: 1000, upgrades: false)))
        checkEqual(machine.timer.reason, .request)
        checkEqual(machine.body(4), .append)
        checkEqual(machine.tick(at: Self.at(30)), .none)
        checkEqual(machine.tick(at: Self.at(31)), .answerTimeout(.request))
        check(!machine.keepAlive)
    }

    @Test func aConnectionCloseRequestClosesAfterItsResponse() {
        var machine = Self.machine()
        Self.receiveRequest(&machine, Self.head(keepAlive: false))
        checkEqual(machine.persistence, .close)
        check(machine.responseReady())
        check(!machine.responseEnding(at: Self.at(2)))
        checkEqual(machine.state, .responding(producing: false))
        checkEqual(machine.responseEnded(abandonedBody: false), .closeLingering)
    }

    @Test func anHTTP10ClientAskingForKeepAliveIsToldSo() {
        var machine = Self.machine()
        Self.receiveRequest(&machine, Self.head(minorVersion: 0))
        checkEqual(machine.persistence, .keepAlive)
    }

    // MARK: Streamed responses

    @Test func aStreamedResponseIsChunkedAndItsProducerCancelledAtShutdown() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        check(machine.responseReady())
        checkEqual(machine.streamStarts(bodyAllowed: true, isHead: false), .init(framing: .chunked, headOnly: false))
        check(machine.isProducing)
        checkEqual(machine.quiesce(), .cancelProducer)
        check(!machine.responseEnding(at: Self.at(3)))
        check(!machine.isProducing)
        checkEqual(machine.responseEnded(abandonedBody: false), .closeLingering)
    }

    /// HTTP/1.0 has no chunked coding: a streamed body ends with the connection.
    @Test func anHTTP10StreamedResponseEndsWithTheConnection() {
        var machine = Self.machine()
        Self.receiveRequest(&machine, Self.head(minorVersion: 0))
        check(machine.responseReady())
        checkEqual(machine.streamStarts(bodyAllowed: true, isHead: false), .init(framing: .untilClose, headOnly: false))
        checkEqual(machine.persistence, .close)
    }

    @Test func aHEADOrBodilessStatusStreamsTheHeadOnly() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        check(machine.responseReady())
        checkEqual(machine.streamStarts(bodyAllowed: true, isHead: true), .init(framing: .chunked, headOnly: true))
        check(machine.keepAlive)
        var bodiless = Self.machine()
        Self.receiveRequest(&bodiless, Self.head(minorVersion: 0))
        check(bodiless.responseReady())
        checkEqual(bodiless.streamStarts(bodyAllowed: false, isHead: false), .init(framing: .none, headOnly: true))
        check(bodiless.keepAlive)
    }

    // MARK: Pipelining

    /// Requests pipelined behind the one being answered are held, in order, and the connection reads no
    /// further; after the response they are handed on until one of them is being answered.
    @Test func pipelinedRequestsWaitAndAreHandedOnInOrder() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        checkEqual(machine.readEnded(), .none)
        check(machine.holdsPipelined)
        for _ in 0..<4 { check(!machine.partArrived()) }  // head and end of two more requests
        checkEqual(machine.heldParts, 4)
        check(!machine.read(bodyBacklogged: false, parserHolds: false))
        check(machine.readHeld)
        check(!machine.releaseRead(parserHolds: false), "held parts keep the read back")
        check(machine.responseReady())
        _ = machine.responseEnding(at: Self.at(2))
        checkEqual(machine.responseEnded(abandonedBody: false), .nextRequest(resumeParsing: false))
        // The replay: the second request's head and end, then it is being answered.
        check(machine.replayBegan())
        check(machine.nextHeldPart())
        check(machine.partArrived())
        checkEqual(machine.head(Self.head(), at: Self.at(2)), .collectBody)
        check(machine.nextHeldPart())
        check(machine.partArrived())
        checkEqual(machine.end(streamedBody: false), .dispatch)
        check(!machine.nextHeldPart(), "the third request waits for the second's response")
        checkEqual(machine.replayEnded(), .none)
        checkEqual(machine.heldParts, 2)
        // The second answered within the replay of its own: a nested replay is refused, the loop goes on.
        check(machine.responseReady())
        checkEqual(machine.wrote(), .flush)
        _ = machine.responseEnding(at: Self.at(3))
        _ = machine.responseEnded(abandonedBody: false)
        check(machine.replayBegan())
        check(machine.nextHeldPart())
        check(machine.partArrived())
        _ = machine.head(Self.head(), at: Self.at(3))
        check(machine.nextHeldPart())
        check(machine.partArrived())
        checkEqual(machine.end(streamedBody: false), .dispatch)
        checkEqual(machine.heldParts, 0)
        checkEqual(machine.replayEnded(), .none)
        check(machine.releaseRead(parserHolds: false))
        check(!machine.readHeld)
    }

    /// While held parts wait (and no replay runs), new parts queue behind them, never ahead.
    @Test func newPartsQueueBehindHeldOnes() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        check(!machine.partArrived())
        check(machine.responseReady())
        _ = machine.responseEnding(at: Self.at(2))
        _ = machine.responseEnded(abandonedBody: false)
        check(!machine.holdsPipelined)
        check(!machine.partArrived(), "a part arriving before the replay goes behind the held one")
        checkEqual(machine.heldParts, 2)
    }

    /// Responses written during a read burst are flushed at the end of the tick, once.
    @Test func responsesOfAReadBurstAreFlushedTogether() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        check(machine.responseReady())
        _ = machine.responseEnding(at: Self.at(1))
        machine.wroteUntracked()
        checkEqual(machine.wrote(), .none)
        checkEqual(machine.readEnded(), .scheduleFlush)
        check(machine.flushed())
        check(!machine.flushed(), "the socket's backlog is checked once per batch of untracked responses")
    }

    // MARK: Upgrade

    /// `h2c`: the parser holds the bytes after the request (no read meanwhile); at its end the connection
    /// goes to HTTP/2 and takes the held read along.
    @Test func anH2CUpgradeHoldsReadsAndHandsTheConnectionOver() {
        var machine = Self.machine()
        machine.bytesArrived(at: Self.at(1))
        check(machine.partArrived())
        checkEqual(machine.head(Self.head(asksToUpgrade: true, offersH2C: true), at: Self.at(1)), .collectBody)
        checkEqual(machine.state, .receiving(.init(limit: 1000, upgrades: true)))
        check(!machine.read(bodyBacklogged: false, parserHolds: true))
        check(!machine.releaseRead(parserHolds: true))
        check(machine.partArrived())
        checkEqual(machine.end(streamedBody: false), .upgrade)
        checkEqual(machine.timer.reason, nil)
        check(machine.takeHeldRead())
        check(!machine.takeHeldRead())
        machine.closed()
        check(machine.isClosed)
    }

    /// A declined upgrade (TLS, a body, no keep-alive, or not h2c) is answered over HTTP/1.1, then parsing
    /// resumes with the bytes held back.
    @Test func aDeclinedUpgradeIsAnsweredAndParsingResumes() {
        for (acceptsH2C, head) in [
            (false, Self.head(asksToUpgrade: true, offersH2C: true)),
            (true, Self.head(asksToUpgrade: true, offersH2C: false)),
        ] {
            var machine = Self.machine(acceptsH2C: acceptsH2C)
            Self.receiveRequest(&machine, head)
            checkEqual(machine.readEnded(), .none)
            checkEqual(Self.respond(&machine), .nextRequest(resumeParsing: true))
            check(machine.resumeBegan())
            checkEqual(machine.readEnded(), .none)
            check(!machine.parserStopped)
        }
        var closing = Self.machine()
        Self.receiveRequest(&closing, Self.head(keepAlive: false, asksToUpgrade: true, offersH2C: true))
        checkEqual(Self.respond(&closing), .closeLingering)
    }

    // MARK: Refusals and errors

    @Test func oversizedHeadersAreRefusedAndTheBodyDropped() {
        var machine = Self.machine()
        machine.bytesArrived(at: Self.at(1))
        check(machine.partArrived())
        checkEqual(machine.head(Self.head(size: 16 * 1024 + 1), at: Self.at(1)), .refuse(.headersTooLarge))
        checkEqual(machine.state, .discarding)
        check(!machine.keepAlive)
        checkEqual(machine.timer.reason, nil)
        check(machine.partArrived())
        checkEqual(machine.body(10), .ignore)
        check(machine.partArrived())
        checkEqual(machine.end(streamedBody: false), .closeAfterRefusal)
    }

    @Test func aBodyOverItsLimitIsRefusedByLengthOrAsItArrives() {
        var declared = Self.machine()
        checkEqual(declared.head(Self.head(contentLength: 1001), at: Self.at(1)), .refuse(.bodyTooLarge))
        var sent = Self.machine()
        checkEqual(sent.head(Self.head(), at: Self.at(1)), .collectBody)
        checkEqual(sent.body(600), .append)
        checkEqual(sent.body(401), .refuse(.bodyTooLarge))
        checkEqual(sent.state, .discarding)
        checkEqual(sent.head(Self.head(), at: Self.at(2)), .ignore)
    }

    @Test func aMalformedRequestIsAnsweredOnlyWhenNoResponseIsOnItsWay() {
        var idle = Self.machine()
        checkEqual(idle.malformed(), .answerAndClose)
        checkEqual(idle.state, .responding(producing: false))
        var receiving = Self.machine()
        _ = receiving.head(Self.head(), at: Self.at(1))
        checkEqual(receiving.malformed(), .answerAndClose)
        var responding = Self.machine()
        Self.receiveRequest(&responding)
        checkEqual(responding.malformed(), .close)
        check(!responding.keepAlive)
        var discarding = Self.machine()
        _ = discarding.head(Self.head(size: 1 << 20), at: Self.at(1))
        checkEqual(discarding.malformed(), .close)
    }

    // MARK: Streamed request bodies

    @Test func aStreamedBodyDispatchesAtItsHeadAndHoldsReadsWhileBacklogged() {
        var machine = Self.machine()
        checkEqual(machine.head(Self.head(streamsBody: true), at: Self.at(1)), .dispatchStreamingBody)
        checkEqual(machine.state, .responding(producing: false))
        checkEqual(machine.timer.reason, nil)
        check(!machine.holdsPipelined, "its body parts go to the handler")
        check(machine.partArrived())
        check(!machine.read(bodyBacklogged: true, parserHolds: false))
        check(machine.releaseRead(parserHolds: false))
        check(machine.read(bodyBacklogged: false, parserHolds: false))
        checkEqual(machine.end(streamedBody: true), .finishStreamedBody(closeAfterRefusal: false))
        check(machine.holdsPipelined)
    }

    /// A handler that answers without reading its whole streamed body: the rest is dropped, then the
    /// connection closes.
    @Test func anAbandonedStreamedBodyIsDroppedAndTheConnectionCloses() {
        var machine = Self.machine()
        _ = machine.head(Self.head(streamsBody: true), at: Self.at(1))
        check(machine.responseReady())
        machine.closeAfterResponse()
        checkEqual(machine.persistence, .close)
        check(!machine.responseEnding(at: Self.at(2)))
        checkEqual(machine.responseEnded(abandonedBody: true), .discardRestOfBody)
        checkEqual(machine.state, .discarding)
        checkEqual(machine.end(streamedBody: true), .finishStreamedBody(closeAfterRefusal: true))
    }

    // MARK: Graceful shutdown

    @Test func shutdownClosesAnIdleConnectionAtOnceOrBehindItsLastResponse() {
        var idle = Self.machine()
        checkEqual(idle.quiesce(), .close)
        var draining = Self.machine()
        Self.receiveRequest(&draining)
        _ = Self.respond(&draining)
        draining.drainBegan(at: Self.at(2))
        checkEqual(draining.quiesce(), .closeAfterDrain)
    }

    /// A response still being computed finishes, with `connection: close`, and the connection closes after
    /// it; a request arriving later is not kept alive either.
    @Test func shutdownLetsTheCurrentResponseFinishThenCloses() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        checkEqual(machine.quiesce(), .none)
        check(machine.shuttingDown)
        checkEqual(machine.persistence, .close)
        checkEqual(Self.respond(&machine), .closeLingering)
        var receiving = Self.machine()
        _ = receiving.head(Self.head(contentLength: 5), at: Self.at(1))
        checkEqual(receiving.quiesce(), .none)
        checkEqual(receiving.body(5), .append)
        checkEqual(receiving.end(streamedBody: false), .dispatch)
        check(!receiving.keepAlive)
        var later = Self.machine()
        _ = later.quiesce()
        checkEqual(later.head(Self.head(), at: Self.at(1)), .collectBody)
        check(!later.keepAlive)
    }

    // MARK: Stalled readers and closed connections

    @Test func aResponseMakingNoProgressForTheIdleTimeoutClosesTheConnection() {
        var machine = Self.machine()
        let limit = TimeAmount.seconds(75)
        checkEqual(machine.stallCheck(at: Self.at(100), limit: limit, writersWaiting: false), .none)
        machine.drainBegan(at: Self.at(10))
        checkEqual(machine.stallCheck(at: Self.at(40), limit: limit, writersWaiting: false), .checkAgain(in: .seconds(45)))
        machine.responseProgressed(at: Self.at(80))
        checkEqual(machine.stallCheck(at: Self.at(100), limit: limit, writersWaiting: false), .checkAgain(in: .seconds(55)))
        checkEqual(machine.stallCheck(at: Self.at(155), limit: limit, writersWaiting: false), .close)
        machine.drainCompleted(at: Self.at(156))
        checkEqual(machine.stallCheck(at: Self.at(300), limit: limit, writersWaiting: false), .none)
        checkEqual(machine.stallCheck(at: Self.at(200), limit: limit, writersWaiting: true), .checkAgain(in: .seconds(31)))
    }

    @Test func aClosedConnectionTakesNoResponseAndNoRequest() {
        var machine = Self.machine()
        Self.receiveRequest(&machine)
        machine.closed()
        check(machine.isClosed)
        check(!machine.responseReady())
        checkEqual(machine.head(Self.head(), at: Self.at(2)), .ignore)
        checkEqual(machine.tick(at: Self.at(1_000)), .none)
        checkEqual(machine.quiesce(), .none)
        checkEqual(machine.malformed(), .close)
    }
}
