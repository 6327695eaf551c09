import Glibc

/// The monotonic clock in milliseconds at the kernel tick's resolution (a few ms), cheaper than the precise clock: for
/// what changes once a second or expires after minutes; read on every request.
package enum CoarseClock {
    package static func milliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    /// `duration` in whole milliseconds.
    package static func milliseconds(of duration: Duration) -> Int64 {
        let components = duration.components
        return components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}
