/// Decides when a connection flushes what it wrote: responses written while a burst of reads is being
/// handled leave together once it is over, and a flush is queued to the end of the event-loop tick at
/// most once.
///
/// The two protocols differ in one point each way (docs/adr/0004-http1-flush-at-end-of-tick.md): HTTP/1.1
/// flushes a read burst's responses at the end of the tick (clients wake up once, to a batch) and a response finished later at
/// once; HTTP/2 flushes a read burst's frames at once (one write already carries them all) and a response
/// finished later at the end of the tick (responses finishing together share a write).
struct FlushSchedule {
    /// When a flush happens.
    enum Timing: Equatable, Sendable {
        case now
        case endOfTick
    }

    /// What the connection does after an event.
    enum Action: Equatable, Sendable {
        case none
        /// Flush now.
        case flush
        /// Queue one flush for the end of this event-loop tick (``scheduledFlushRan()`` when it runs).
        case scheduleFlush
    }

    /// When a read burst's writes are flushed, once ``readEnded()`` says the burst is over.
    let afterReads: Timing
    /// When a write outside a burst is flushed.
    let otherwise: Timing

    /// Inside a burst of reads (between the first `channelRead` and `channelReadComplete`).
    private(set) var reading = false
    /// Handing over requests that waited (HTTP/1.1 pipelining), a burst of its own.
    private(set) var replaying = false
    /// Something was written inside a burst and waits for its end.
    private(set) var pending = false
    /// A flush is queued for the end of the tick.
    private(set) var scheduled = false

    init(afterReads: Timing, otherwise: Timing) {
        self.afterReads = afterReads
        self.otherwise = otherwise
    }

    /// A read arrived; true when it starts a burst.
    mutating func readBegan() -> Bool {
        defer { reading = true }
        return !reading
    }

    /// The burst of reads is over (`channelReadComplete`).
    mutating func readEnded() -> Action {
        reading = false
        switch afterReads {
        case .now:
            return .flush
        case .endOfTick:
            guard pending else { return .none }
            pending = false
            return schedule()
        }
    }

    /// Bytes were written.
    mutating func wrote() -> Action {
        if reading || replaying {
            // HTTP/2 flushes every burst at its end anyway.
            if afterReads == .endOfTick { pending = true }
            return .none
        }
        switch otherwise {
        case .now: return .flush
        case .endOfTick: return schedule()
        }
    }

    mutating func replayBegan() -> Bool {
        defer { replaying = true }
        return !replaying
    }

    /// The replay is over: what it wrote is flushed now, unless a read burst still runs and will.
    mutating func replayEnded() -> Action {
        replaying = false
        guard pending, !reading else { return .none }
        pending = false
        return .flush
    }

    /// The flush queued for the end of the tick runs (HTTP/2: any flush, which makes the queued one moot).
    mutating func scheduledFlushRan() {
        scheduled = false
    }

    private mutating func schedule() -> Action {
        guard !scheduled else { return .none }
        scheduled = true
        return .scheduleFlush
    }
}
