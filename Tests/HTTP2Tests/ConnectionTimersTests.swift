@testable import HTTP2
import NIOCore
import Testing

/// The pieces both connection handlers share, on made-up clocks: the connection timeout, when to flush,
/// and telling a stalled reader from a slow one.
@Suite("Connection timers, flushing and stall detection")
struct ConnectionTimersTests {
    static let amounts = TimeoutAmounts(HTTPServerConfiguration.Limits())  // header 10 s, request 30 s, idle 75 s
    static let start = NIODeadline.uptimeNanoseconds(1_000_000_000)

    static func at(_ seconds: Int64) -> NIODeadline { start + .seconds(seconds) }

    // MARK: ConnectionTimer

    @Test func aTimeoutExpiresAtItsAmountAndOnlyOnce() {
        var timer = ConnectionTimer(Self.amounts)
        timer.arm(.header, at: Self.start)
        #expect(timer.deadline == Self.at(10))
        checkEqual(timer.expire(at: Self.at(9)), nil)
        checkEqual(timer.expire(at: Self.at(10)), .header)
        checkEqual(timer.expire(at: Self.at(11)), nil)
        #expect(timer.reason == nil)
    }

    @Test func eachReasonHasItsOwnAmount() {
        var timer = ConnectionTimer(Self.amounts)
        timer.arm(.request, at: Self.start)
        #expect(timer.deadline == Self.at(30))
        timer.arm(.idle, at: Self.start)
        #expect(timer.deadline == Self.at(75))
    }

    @Test func armingReplacesTheRunningTimeout() {
        var timer = ConnectionTimer(Self.amounts)
        timer.arm(.header, at: Self.start)
        timer.arm(.request, at: Self.at(5))
        checkEqual(timer.expire(at: Self.at(20)), nil)
        checkEqual(timer.expire(at: Self.at(35)), .request)
    }

    @Test func aDisarmedTimerNeverExpires() {
        var timer = ConnectionTimer(Self.amounts)
        timer.arm(.idle, at: Self.start)
        timer.disarm()
        #expect(timer.deadline == nil)
        checkEqual(timer.expire(at: Self.at(1_000)), nil)
    }

    /// HTTP/2 counts idleness from the last activity: the header timeout until a stream was served, then the
    /// idle timeout, each time from the last read or closed stream.
    @Test func restartingAndChangingKeepTheTimeoutCountingFromActivity() {
        var timer = ConnectionTimer(Self.amounts)
        timer.arm(.header, at: Self.start)
        timer.restart(at: Self.at(8))
        checkEqual(timer.expire(at: Self.at(12)), nil)
        timer.change(to: .idle)
        #expect(timer.deadline == Self.at(83))
        checkEqual(timer.expire(at: Self.at(82)), nil)
        checkEqual(timer.expire(at: Self.at(83)), .idle)
        timer.change(to: .header)
        #expect(timer.reason == nil, "changing a timer that no longer runs does not start it")
    }

    @Test func limitsNameTheDurationBehindEachReason() {
        let limits = HTTPServerConfiguration.Limits()
        #expect(limits.timeout(.header) == limits.headerTimeout)
        #expect(limits.timeout(.request) == limits.requestTimeout)
        #expect(limits.timeout(.idle) == limits.idleTimeout)
    }

    // MARK: FlushSchedule

    /// HTTP/1.1 (adr 0004): the responses written during a read burst leave at the end of the tick, in one
    /// queued flush, however many there are.
    @Test func http1FlushesAReadBurstAtTheEndOfTheTickOnce() {
        var flushes = FlushSchedule(afterReads: .endOfTick, otherwise: .now)
        check(flushes.readBegan())
        check(!flushes.readBegan())
        checkEqual(flushes.wrote(), .none)
        checkEqual(flushes.wrote(), .none)
        checkEqual(flushes.readEnded(), .scheduleFlush)
        check(flushes.readBegan())
        checkEqual(flushes.wrote(), .none)
        check(flushes.readEnded() == .none, "a flush is already queued for this tick")
        flushes.scheduledFlushRan()
        check(flushes.readBegan())
        checkEqual(flushes.wrote(), .none)
        checkEqual(flushes.readEnded(), .scheduleFlush)
    }

    @Test func http1FlushesAResponseFinishedOutsideAReadAtOnce() {
        var flushes = FlushSchedule(afterReads: .endOfTick, otherwise: .now)
        checkEqual(flushes.wrote(), .flush)
        _ = flushes.readBegan()
        check(flushes.readEnded() == .none, "a burst that wrote nothing queues nothing")
    }

    /// Pipelined requests handed on after a response are a burst of their own, flushed when the replay ends,
    /// unless a read burst is still on (its end flushes them).
    @Test func http1FlushesAReplayWhenItEnds() {
        var flushes = FlushSchedule(afterReads: .endOfTick, otherwise: .now)
        check(flushes.replayBegan())
        check(!flushes.replayBegan())
        checkEqual(flushes.wrote(), .none)
        checkEqual(flushes.replayEnded(), .flush)
        _ = flushes.readBegan()
        check(flushes.replayBegan())
        checkEqual(flushes.wrote(), .none)
        checkEqual(flushes.replayEnded(), .none)
        checkEqual(flushes.readEnded(), .scheduleFlush)
    }

    /// HTTP/2: a read burst's frames go out at its end; responses finishing later share one queued flush.
    @Test func http2FlushesAReadBurstAtOnceAndLaterResponsesAtTheEndOfTheTick() {
        var flushes = FlushSchedule(afterReads: .now, otherwise: .endOfTick)
        check(flushes.readBegan())
        checkEqual(flushes.wrote(), .none)
        checkEqual(flushes.readEnded(), .flush)
        checkEqual(flushes.wrote(), .scheduleFlush)
        checkEqual(flushes.wrote(), .none)
        flushes.scheduledFlushRan()
        checkEqual(flushes.wrote(), .scheduleFlush)
    }

    // MARK: StallWatch and ResponseDrain

    @Test func aResponseWithoutProgressForTheLimitIsStalled() {
        var watch = StallWatch(since: Self.start)
        #expect(watch.verdict(at: Self.at(30), limit: .seconds(75)) == .quiet(remaining: .seconds(45)))
        #expect(!watch.isStalled(at: Self.at(74), limit: .seconds(75)))
        #expect(watch.verdict(at: Self.at(75), limit: .seconds(75)) == .stalled)
        watch.progressed(at: Self.at(70))
        #expect(watch.verdict(at: Self.at(75), limit: .seconds(75)) == .quiet(remaining: .seconds(70)))
    }

    @Test func aWatchThatNeverSawProgressIsNotStalled() {
        let watch = StallWatch()
        #expect(!watch.isStalled(at: Self.at(1_000_000), limit: .seconds(75)))
    }

    @Test func drainingCountsAwaitedWritesAndTheirProgress() {
        var drain = ResponseDrain(now: Self.start)
        #expect(!drain.isDraining)
        drain.began(at: Self.at(10))
        drain.began(at: Self.at(20))
        #expect(drain.inFlight == 2)
        drain.completed(at: Self.at(30))
        #expect(drain.isDraining)
        #expect(drain.watch.lastProgress == Self.at(30))
        drain.progressed(at: Self.at(40))
        drain.completed(at: Self.at(50))
        #expect(!drain.isDraining)
        #expect(drain.watch.lastProgress == Self.at(50))
    }

    // MARK: Streamed bodies

    @Test func aStreamedRequestBodyOverOrFailedIsNotWatched() {
        let body = RequestBodyBuffer(limit: 100) {}
        if case .checkAgain = body.watchClient(limit: .seconds(30)) {} else { Issue.record("a fresh body is watched") }
        body.finish()
        checkEqual(body.watchClient(limit: .seconds(30)), .over)
    }

    @Test func aStreamedRequestBodyWhoseClientStallsFails() async {
        let body = RequestBodyBuffer(limit: 100) {}
        checkEqual(body.watchClient(limit: .zero), .timedOut)
        do {
            _ = try await body.next()
            Issue.record("the body should have failed")
        } catch {
            #expect(error == .timedOut)
        }
    }

    @Test func waitingWritersAreResumedOrFailedTogether() async {
        final class Box: @unchecked Sendable { var waiters = WriterWaiters() }
        let box = Box()
        let outcome = await withTaskGroup(of: String.self) { group in
            let ready = AsyncStream<Void>.makeStream()
            group.addTask {
                do {
                    try await withCheckedThrowingContinuation { continuation in
                        box.waiters.add(continuation)
                        ready.continuation.yield()
                    }
                    return "resumed"
                } catch {
                    return "failed"
                }
            }
            for await _ in ready.stream { break }
            #expect(!box.waiters.isEmpty)
            box.waiters.failAll()
            #expect(box.waiters.isEmpty)
            return await group.next() ?? "none"
        }
        #expect(outcome == "failed")
    }
}
