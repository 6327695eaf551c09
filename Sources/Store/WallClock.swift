import Glibc
import Synchronization

/// A moment in wall-clock time, in milliseconds since 1970-01-01T00:00:00Z.
///
/// Deadlines are stored on disk, so they use wall time rather than a monotonic clock.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var millisecondsSince1970: Int64

    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = millisecondsSince1970
    }

    /// This moment plus a number of seconds (negative moves back).
    public func adding(seconds: Int64) -> Timestamp {
        Timestamp(millisecondsSince1970: millisecondsSince1970 &+ seconds &* 1000)
    }

    /// This moment plus a number of milliseconds.
    public func adding(milliseconds: Int64) -> Timestamp {
        Timestamp(millisecondsSince1970: millisecondsSince1970 &+ milliseconds)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    public var description: String { "\(millisecondsSince1970)ms" }
}

/// The source of "now" for expiry decisions; inject ``ManualWallClock`` in tests instead of sleeping.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}

/// The system's real-time clock.
public struct SystemWallClock: WallClock {
    public init() {}

    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(millisecondsSince1970: Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000)
    }
}

/// A clock that moves only when told to.
public final class ManualWallClock: WallClock {
    private let current: Mutex<Timestamp>

    public init(_ start: Timestamp = Timestamp(millisecondsSince1970: 1_700_000_000_000)) {
        current = Mutex(start)
    }

    public func now() -> Timestamp { current.withLock { $0 } }

    /// Moves the clock forward by a number of seconds.
    public func advance(seconds: Int64) {
        current.withLock { $0 = $0.adding(seconds: seconds) }
    }

    /// Sets the clock to a moment.
    public func set(_ moment: Timestamp) {
        current.withLock { $0 = moment }
    }
}

/// Monotonic nanoseconds, for measuring how long work took.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}
