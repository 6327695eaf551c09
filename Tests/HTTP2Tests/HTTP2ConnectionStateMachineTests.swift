@testable import HTTP2
import NIOCore
import Testing

/// The HTTP/2 connection's own decisions without a socket (nghttp2 keeps the protocol's state): flushing,
/// idling out, the two-step GOAWAY of a graceful shutdown, protocol errors and closing.
@Suite("HTTP/2 connection state machine")
struct HTTP2ConnectionStateMachineTests {
    typealias Machine = HTTP2ConnectionStateMachine
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    static func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    static func machine() -> Machine {
        Machine(timeouts: TimeoutAmounts(HTTPServerConfiguration.Limits()), now: start)
    }

    // MARK: Reading and flushing

    /// The first read of a burst is activity and sets the clock; the burst's frames go out at its end.
    @Test func aReadBurstIsFlushedAtItsEnd() {
        var machine = Self.machine()
        checkEqual(machine.readArrived(at: Self.at(1)), .receiveStartingBurst(at: Self.at(1)))
        checkEqual(machine.readArrived(at: Self.at(2)), .receive)
        check(machine.isReading)
        checkEqual(machine.wrote(), .none, "the burst's end flushes")
        checkEqual(machine.readEnded(), .flush)
        check(!machine.isReading)
    }

    /// Responses finishing outside a read (a handler's task) share one flush at the end of the tick.
    @Test func responsesFinishingLaterShareAFlushAtTheEndOfTheTick() {
        var machine = Self.machine()
        checkEqual(machine.wrote(), .scheduleFlush)
        checkEqual(machine.wrote(), .none)
        check(machine.flushBegan(canWrite: true))
        checkEqual(machine.flushEnded(healthy: true, sessionAlive: true), .none)
        checkEqual(machine.wrote(), .scheduleFlush)
        machine.flushDropped()
        checkEqual(machine.wrote(), .scheduleFlush)
    }

    /// Writes report writability changes re-entrantly: a flush inside a flush does nothing.
    @Test func aFlushDoesNotRunInsideAnotherOrWithoutAChannel() {
        var machine = Self.machine()
        check(!machine.flushBegan(canWrite: false))
        check(machine.flushBegan(canWrite: true))
        check(machine.flushing)
        check(!machine.flushBegan(canWrite: true))
        _ = machine.flushEnded(healthy: true, sessionAlive: true)
        check(!machine.flushing)
        check(machine.flushBegan(canWrite: true))
    }

    // MARK: Closing

    /// A session that ended (nghttp2 wants neither to read nor to write) closes the connection once its last
    /// bytes are out, letting the peer read them first; a session that failed to produce frames too.
    @Test func anEndedSessionClosesOnceWrittenAndLingers() {
        var machine = Self.machine()
        check(machine.flushBegan(canWrite: true))
        checkEqual(machine.flushEnded(healthy: true, sessionAlive: false), .closeWhenWritten(lingering: true))
        check(machine.closeWhenWritten(lingering: true))
        checkEqual(machine.state, .closing(lingering: true))
        check(!machine.closeWhenWritten(lingering: false), "closing already")
        checkEqual(machine.readArrived(at: Self.at(1)), .drop)
        check(!machine.flushBegan(canWrite: true), "a closing connection writes nothing more")
        var broken = Self.machine()
        check(broken.flushBegan(canWrite: true))
        checkEqual(broken.flushEnded(healthy: false, sessionAlive: true), .closeWhenWritten(lingering: false))
    }

    /// A peer that broke the protocol gets its GOAWAY and no lingering.
    @Test func aProtocolErrorClosesWithoutLingering() {
        var machine = Self.machine()
        _ = machine.readArrived(at: Self.at(1))
        machine.receiveFailed()
        check(machine.failed)
        check(machine.flushBegan(canWrite: true))
        checkEqual(machine.flushEnded(healthy: true, sessionAlive: false), .closeWhenWritten(lingering: false))
        check(machine.closeWhenWritten(lingering: false))
        checkEqual(machine.state, .closing(lingering: false))
    }

    // MARK: Idle timeouts

    /// A connection that never opens a stream closes after the header timeout from its last activity.
    @Test func aSilentConnectionClosesAfterTheHeaderTimeout() {
        var machine = Self.machine()
        checkEqual(machine.tick(at: Self.at(9), streamsOpen: false), .none)
        checkEqual(machine.tick(at: Self.at(10), streamsOpen: false), .goawayAndClose)
        checkEqual(machine.tick(at: Self.at(11), streamsOpen: false), .none, "once")
    }

    @Test func readsPushTheTimeoutBack() {
        var machine = Self.machine()
        _ = machine.readArrived(at: Self.at(8))
        _ = machine.readEnded()
        checkEqual(machine.tick(at: Self.at(17), streamsOpen: false), .none)
        checkEqual(machine.tick(at: Self.at(18), streamsOpen: false), .goawayAndClose)
    }

    /// Once it has served a stream, the connection waits the idle timeout from its last stream or read, and
    /// never closes while a stream is open.
    @Test func aServingConnectionIdlesOutAfterItsLastStream() {
        var machine = Self.machine()
        _ = machine.readArrived(at: Self.at(1))
        machine.streamOpened()
        _ = machine.readEnded()
        checkEqual(machine.tick(at: Self.at(50), streamsOpen: true), .none)
        checkEqual(machine.tick(at: Self.at(100), streamsOpen: true), .none, "a stream is open")
        machine.streamClosed(at: Self.at(100))
        checkEqual(machine.tick(at: Self.at(174), streamsOpen: false), .none)
        checkEqual(machine.tick(at: Self.at(175), streamsOpen: false), .goawayAndClose)
    }

    // MARK: Graceful shutdown

    /// GOAWAY in two steps: the shutdown notice at once, the final GOAWAY one round trip later; the
    /// connection closes once that is out if no stream is left, else when the session ends.
    @Test func shutdownSendsGoawayInTwoSteps() {
        var machine = Self.machine()
        checkEqual(machine.quiesce(), .sendShutdownNotice)
        checkEqual(machine.state, .shuttingDown(goawaySent: false))
        checkEqual(machine.quiesce(), .none, "one shutdown")
        checkEqual(machine.shutdownNoticeElapsed(), .sendGoaway)
        checkEqual(machine.state, .shuttingDown(goawaySent: true))
        checkEqual(machine.shutdownNoticeElapsed(), .none)
        check(machine.finalGoawayFlushed(streamsOpen: false))
        check(!machine.finalGoawayFlushed(streamsOpen: true))
        check(machine.isShuttingDown)
    }

    /// Streams in flight finish after the notice; the idle timeout no longer closes the connection.
    @Test func aShuttingDownConnectionDoesNotIdleOut() {
        var machine = Self.machine()
        _ = machine.quiesce()
        checkEqual(machine.tick(at: Self.at(1_000), streamsOpen: false), .none)
        checkEqual(machine.wrote(), .scheduleFlush, "responses still go out")
        check(machine.flushBegan(canWrite: true))
        checkEqual(machine.flushEnded(healthy: true, sessionAlive: false), .closeWhenWritten(lingering: true))
    }

    @Test func aClosingConnectionOnlyCancelsItsStreamedResponsesAtShutdown() {
        var machine = Self.machine()
        check(machine.closeWhenWritten(lingering: true))
        checkEqual(machine.quiesce(), .cancelStreamedResponses)
        checkEqual(machine.shutdownNoticeElapsed(), .none)
        checkEqual(machine.tick(at: Self.at(1_000), streamsOpen: false), .none)
    }

    // MARK: Streams

    typealias Stream = HTTP2StreamStateMachine

    static func stream() -> Stream { Stream(receiveBy: at(30)) }

    /// A request without a body: dispatched when its HEADERS end the stream, answered once.
    @Test func aStreamIsDispatchedOnceAndAnsweredOnce() {
        var stream = Self.stream()
        checkEqual(stream.header(size: 100, limit: 16_384), .add)
        checkEqual(stream.headersComplete(), nil)
        checkEqual(stream.planned(limit: 1000, streamed: false, endStream: true, contentLength: nil), .dispatch)
        check(stream.dispatch())
        checkEqual(stream.state, .dispatched)
        check(!stream.isOverdue(at: Self.at(1_000)), "no request timeout once dispatched")
        check(stream.respond(ended: true, at: Self.at(2)))
        checkEqual(stream.state, .responding(ended: true))
        check(!stream.respond(ended: true, at: Self.at(3)), "a second response is dropped")
        check(!stream.dispatch())
        checkEqual(stream.answerOut(refusedBodyGrace: .milliseconds(500), abandonedBodyDrain: .seconds(2)), nil)
    }

    /// A body is collected up to the route's limit, then the stream is dispatched at its end.
    @Test func aBodyIsCollectedUntilTheStreamEnds() {
        var stream = Self.stream()
        checkEqual(stream.planned(limit: 10, streamed: false, endStream: false, contentLength: 8), .collect)
        checkEqual(stream.data(5, streamedBody: false, collected: 0), .append)
        checkEqual(stream.data(3, streamedBody: false, collected: 5), .append)
        checkEqual(stream.ended(streamedBody: false), .dispatch)
        _ = stream.dispatch()
        checkEqual(stream.data(1, streamedBody: false, collected: 8), .ignore)
        checkEqual(stream.ended(streamedBody: false), .none)
    }

    /// Headers past the limit are dropped as they arrive and refused (431) once complete; the stream is reset
    /// a while after the answer, as the client may still be sending.
    @Test func headersPastTheLimitAreRefused() {
        var stream = Self.stream()
        checkEqual(stream.header(size: 10_000, limit: 16_384), .add)
        checkEqual(stream.header(size: 10_000, limit: 16_384), .dropAll)
        checkEqual(stream.header(size: 1, limit: 16_384), .dropAll)
        checkEqual(stream.headersComplete(), .headersTooLarge)
        check(stream.refuse(.headersTooLarge, at: Self.at(1)))
        checkEqual(stream.state, .responding(ended: true))
        checkEqual(stream.data(10, streamedBody: false, collected: 0), .ignore)
        checkEqual(stream.ended(streamedBody: false), .none)
        check(stream.resetAfterResponse)
        checkEqual(stream.answerOut(refusedBodyGrace: .milliseconds(500), abandonedBodyDrain: .seconds(2)), .milliseconds(500))
        checkEqual(stream.answerOut(refusedBodyGrace: .milliseconds(500), abandonedBodyDrain: .seconds(2)), nil, "once")
    }

    @Test func aBodyPastItsLimitIsRefusedByLengthOrAsItArrives() {
        var declared = Self.stream()
        checkEqual(declared.planned(limit: 10, streamed: false, endStream: false, contentLength: 11), .refuse(.bodyTooLarge))
        checkEqual(declared.bodyLimit, 10)
        var headersOnly = Self.stream()
        checkEqual(headersOnly.planned(limit: 10, streamed: false, endStream: true, contentLength: nil), .dispatch, "no body, whatever content-length says")
        var sent = Self.stream()
        _ = sent.planned(limit: 10, streamed: false, endStream: false, contentLength: nil)
        checkEqual(sent.data(8, streamedBody: false, collected: 0), .append)
        checkEqual(sent.data(3, streamedBody: false, collected: 8), .refuse(.bodyTooLarge))
    }

    @Test func aRequestNotReceivedInTimeIsOverdue() {
        var stream = Self.stream()
        check(!stream.isOverdue(at: Self.at(30)))
        check(stream.isOverdue(at: Self.at(31)))
        check(stream.refuse(.timedOut, at: Self.at(31)))
        check(!stream.isOverdue(at: Self.at(32)))
        check(!stream.refuse(.timedOut, at: Self.at(32)), "answered already")
    }

    /// A streamed body's credit goes back as the handler reads; abandoned, the owed credit goes back at once,
    /// the rest is dropped but credited, and the stream is reset after the longer drain.
    @Test func aStreamedBodyIsCreditedAsReadAndDroppedOnceAbandoned() {
        var stream = Self.stream()
        checkEqual(stream.planned(limit: 1 << 20, streamed: true, endStream: false, contentLength: nil), .dispatchStreaming)
        _ = stream.dispatch()
        checkEqual(stream.data(100, streamedBody: true, collected: 0), .toHandler)
        checkEqual(stream.data(50, streamedBody: true, collected: 0), .toHandler)
        check(stream.bodyConsumed(100))
        check(stream.respond(ended: true, at: Self.at(2)))
        checkEqual(stream.abandonBody(bodyComplete: false), 50)
        checkEqual(stream.abandonBody(bodyComplete: false), nil)
        check(!stream.bodyConsumed(10), "no credit twice")
        checkEqual(stream.data(70, streamedBody: true, collected: 0), .dropCredited)
        checkEqual(stream.inboundCredited, stream.inboundArrived)
        checkEqual(stream.ended(streamedBody: true), .finishStreamedBody)
        checkEqual(stream.answerOut(refusedBodyGrace: .milliseconds(500), abandonedBodyDrain: .seconds(2)), .seconds(2))
        var complete = Self.stream()
        checkEqual(complete.abandonBody(bodyComplete: true), nil)
    }

    /// A streamed response takes chunks until its producer ends; a response with bytes waiting and no
    /// progress for the idle timeout belongs to a client that stopped reading.
    @Test func aStreamedResponseTakesChunksUntilItEndsAndStallsWithoutProgress() {
        var stream = Self.stream()
        _ = stream.dispatch()
        check(stream.respond(ended: false, at: Self.at(1)))
        check(stream.acceptsChunks)
        stream.progressed(at: Self.at(5))
        check(!stream.isStalled(at: Self.at(79), limit: .seconds(75), buffered: 10))
        check(stream.isStalled(at: Self.at(80), limit: .seconds(75), buffered: 10))
        check(!stream.isStalled(at: Self.at(80), limit: .seconds(75), buffered: 0), "nothing waiting")
        stream.bodyEnded()
        check(!stream.acceptsChunks)
        check(stream.outboundEnded)
        let waiting = Self.stream()
        check(!waiting.isStalled(at: Self.at(1_000), limit: .seconds(75), buffered: 10), "no response yet")
    }
}
