import Crypto
import Store
import Synchronization

/// An authorization request waiting on the consent page, with the CSRF token its form carries.
struct PendingConsent: Sendable {
    var client: ClientRecord
    var redirectURI: String
    var state: String?
    var challenge: String
    var resource: String
    var scope: [String]
    /// Wrong API keys entered so far.
    var failedAttempts: Int
    var expiresAt: Timestamp
}

/// Consent pages in flight, in memory and bounded. Each page has a random id (in the form) and a CSRF
/// token stored only as a hash; a POST takes the entry out (single use) whatever it carries, so a CSRF
/// token can never be tried twice. A page shown again after a wrong API key gets a new id and token.
final class PendingConsents: Sendable {
    private struct Entry: Sendable {
        var consent: PendingConsent
        var csrfHash: [UInt8]
    }

    private let capacity: Int
    private let entries = Mutex<[String: Entry]>([:])
    static let csrfHash = SecretHash(domain: "hermes.oauth-csrf.v1")

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Stores `consent`; returns (id, csrf token), or nil when too many pages are open.
    func open(_ consent: PendingConsent, now: Timestamp) -> (id: String, csrf: String)? {
        let id = RandomToken.urlSafe(byteCount: 16)
        let csrf = RandomToken.urlSafe()
        let entry = Entry(consent: consent, csrfHash: Self.csrfHash.digest(of: csrf))
        let stored = entries.withLock { entries -> Bool in
            if entries.count >= capacity { entries = entries.filter { $0.value.consent.expiresAt > now } }
            guard entries.count < capacity else { return false }
            entries[id] = entry
            return true
        }
        return stored ? (id, csrf) : nil
    }

    enum Outcome {
        case valid(PendingConsent)
        /// No such page, or it expired or was already submitted.
        case unknown
        /// The page exists but the CSRF token is missing or wrong (the page is now spent).
        case forged
    }

    /// Takes the page `id` out and checks `csrf` against it in constant time.
    func take(id: String, csrf: String?, now: Timestamp) -> Outcome {
        guard let entry = entries.withLock({ $0.removeValue(forKey: id) }), entry.consent.expiresAt > now else { return .unknown }
        guard let csrf, ConstantTime.equals(Self.csrfHash.digest(of: csrf), entry.csrfHash) else { return .forged }
        return .valid(entry.consent)
    }

    var count: Int { entries.withLock { $0.count } }
}

/// Counts registrations per remote address in a one-hour window, in memory.
final class RegistrationLimiter: Sendable {
    private let perHour: Int
    private let windows = Mutex<[String: (start: Timestamp, count: Int)]>([:])

    init(perHour: Int) { self.perHour = perHour }

    /// Whether `address` may register now; counts the attempt when it may. Returns the seconds to wait otherwise.
    func admit(_ address: String, now: Timestamp) -> Int64? {
        windows.withLock { windows in
            if windows.count > 50_000 { windows = windows.filter { now.millisecondsSince1970 - $0.value.start.millisecondsSince1970 < 3_600_000 } }
            var window = windows[address] ?? (now, 0)
            if now.millisecondsSince1970 - window.start.millisecondsSince1970 >= 3_600_000 { window = (now, 0) }
            guard window.count < perHour else {
                return max(1, (window.start.millisecondsSince1970 + 3_600_000 - now.millisecondsSince1970) / 1000)
            }
            window.count += 1
            windows[address] = window
            return nil
        }
    }
}
