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

/// Consent pages in flight, in memory and bounded in total and per remote address. Each page has a random
/// id (in the form) and a CSRF token stored only as a hash; a POST takes the entry out (single use)
/// whatever it carries, so a CSRF token can never be tried twice. A page shown again after a wrong API key
/// gets a new id and token.
final class PendingConsents: Sendable {
    private struct Entry: Sendable {
        var consent: PendingConsent
        var csrfHash: [UInt8]
        var address: String
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Ids of the pages each address has open, so one address cannot take every place.
        var byAddress: [String: Set<String>] = [:]

        mutating func remove(_ id: String) -> Entry? {
            guard let entry = entries.removeValue(forKey: id) else { return nil }
            if byAddress[entry.address]?.remove(id) != nil, byAddress[entry.address]?.isEmpty == true {
                byAddress[entry.address] = nil
            }
            return entry
        }
    }

    private let capacity: Int
    private let perAddress: Int
    private let state = Mutex(State())
    static let csrfHash = SecretHash(domain: "hermes.oauth-csrf.v1")

    init(capacity: Int, perAddress: Int) {
        self.capacity = max(1, capacity)
        self.perAddress = max(1, perAddress)
    }

    enum Opening {
        case opened(id: String, csrf: String)
        /// `address` has ``perAddress`` pages open; the earliest expires in `retryAfterSeconds`.
        case addressBusy(limit: Int, retryAfterSeconds: Int64)
        /// Every place is taken.
        case full
    }

    /// Stores `consent` for the client at `address`.
    func open(_ consent: PendingConsent, address: String, now: Timestamp) -> Opening {
        let id = RandomToken.urlSafe(byteCount: 16)
        let csrf = RandomToken.urlSafe()
        let entry = Entry(consent: consent, csrfHash: Self.csrfHash.digest(of: csrf), address: address)
        return state.withLock { state -> Opening in
            if let mine = state.byAddress[address], mine.count >= perAddress {
                for id in mine where state.entries[id].map({ $0.consent.expiresAt <= now }) ?? true { _ = state.remove(id) }
                if let left = state.byAddress[address], left.count >= perAddress {
                    let earliest = left.compactMap { state.entries[$0]?.consent.expiresAt.millisecondsSince1970 }.min() ?? now.millisecondsSince1970
                    return .addressBusy(limit: perAddress, retryAfterSeconds: max(1, (earliest - now.millisecondsSince1970 + 999) / 1000))
                }
            }
            if state.entries.count >= capacity {
                for (id, entry) in state.entries where entry.consent.expiresAt <= now { _ = state.remove(id) }
            }
            guard state.entries.count < capacity else { return .full }
            state.entries[id] = entry
            state.byAddress[address, default: []].insert(id)
            return .opened(id: id, csrf: csrf)
        }
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
        guard let entry = state.withLock({ $0.remove(id) }), entry.consent.expiresAt > now else { return .unknown }
        guard let csrf, ConstantTime.equals(Self.csrfHash.digest(of: csrf), entry.csrfHash) else { return .forged }
        return .valid(entry.consent)
    }

    var count: Int { state.withLock { $0.entries.count } }
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

/// Outbound fetches in flight (running or waiting), bounded in total and per remote address of the request
/// that caused them.
final class FetchSlots: Sendable {
    private let total: Int
    private let perAddress: Int
    private let state = Mutex<(count: Int, byAddress: [String: Int])>((0, [:]))

    init(total: Int, perAddress: Int) {
        self.total = max(1, total)
        self.perAddress = max(1, perAddress)
    }

    enum Acquisition {
        case acquired
        case addressBusy
        case full
    }

    /// Takes a slot for `address`; every ``Acquisition/acquired`` needs one ``release(_:)``.
    func acquire(_ address: String) -> Acquisition {
        state.withLock { state in
            guard state.byAddress[address, default: 0] < perAddress else { return .addressBusy }
            guard state.count < total else { return .full }
            state.count += 1
            state.byAddress[address, default: 0] += 1
            return .acquired
        }
    }

    func release(_ address: String) {
        state.withLock { state in
            state.count -= 1
            let left = state.byAddress[address, default: 1] - 1
            state.byAddress[address] = left > 0 ? left : nil
        }
    }

    /// Fetches in flight for `address`.
    func count(for address: String) -> Int { state.withLock { $0.byAddress[address] ?? 0 } }
}
