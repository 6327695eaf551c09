/// Who a tool call runs for.
///
/// Today the daemon runs in single-user mode: every authenticated caller is ``singleUser``. The tenancy
/// work adds real customers (their id and plan come from the `customers` keyspace) without changing
/// the tool runtime: tools read the customer from their invocation and never from anywhere else.
public struct Customer: Sendable, Hashable, CustomStringConvertible {
    /// How the caller is known to the daemon.
    public enum Kind: String, Sendable, Hashable {
        /// The one user of a single-user daemon (a static API key).
        case singleUser = "single-user"
        /// A customer of a multi-tenant daemon.
        case customer
    }

    /// Stable identifier; prefixes every key this customer owns in the store.
    public var id: String
    public var kind: Kind
    /// The plan's name (limits and billing hang off it).
    public var plan: String
    /// A name to show people, when there is one.
    public var displayName: String?

    public init(id: String, kind: Kind, plan: String, displayName: String? = nil) {
        self.id = id
        self.kind = kind
        self.plan = plan
        self.displayName = displayName
    }

    /// The caller of a single-user daemon.
    public static let singleUser = Customer(id: "single-user", kind: .singleUser, plan: "single-user", displayName: "single user")

    public var description: String { "\(kind.rawValue):\(id)" }
}
