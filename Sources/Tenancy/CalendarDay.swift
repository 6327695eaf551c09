package import Store

/// A UTC calendar date from a ``Timestamp``: names audit-log days (`2026-11-25`) and usage months (`2026-11`).
package struct CalendarDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    package let year: Int
    package let month: Int
    package let day: Int

    package init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// The UTC day `timestamp` falls on (proleptic Gregorian; H. Hinnant's `civil_from_days`).
    package init(_ timestamp: Timestamp) {
        let millisecondsPerDay: Int64 = 86_400_000
        var days = timestamp.millisecondsSince1970 / millisecondsPerDay
        if timestamp.millisecondsSince1970 < 0, timestamp.millisecondsSince1970 % millisecondsPerDay != 0 { days -= 1 }
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * shiftedMonth + 2) / 5 + 1)
        month = Int(shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9)
        year = Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0))
    }

    /// `yyyy-mm-dd`.
    package var description: String { "\(monthText)-\(Self.twoDigits(day))" }

    /// `yyyy-mm`, the usage period.
    package var monthText: String { "\(year)-\(Self.twoDigits(month))" }

    /// Midnight UTC at the start of the next month: when a monthly quota resets.
    package var startOfNextMonth: Timestamp {
        let (nextYear, nextMonth) = month == 12 ? (year + 1, 1) : (year, month + 1)
        return Self.midnight(year: nextYear, month: nextMonth, day: 1)
    }

    /// Midnight UTC of a date (H. Hinnant's `days_from_civil`).
    package static func midnight(year: Int, month: Int, day: Int) -> Timestamp {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let m = Int64(month)
        let dayOfYear = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Timestamp(millisecondsSince1970: days * 86_400_000)
    }

    package static func < (lhs: CalendarDay, rhs: CalendarDay) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    private static func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
