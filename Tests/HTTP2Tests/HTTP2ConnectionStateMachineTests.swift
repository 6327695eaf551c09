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
}
