/// An error from the store, with a message a person can act on.
///
/// Compare errors by ``code``; the message may change between releases. Messages never contain stored
/// values, only the keyspace and, where harmless, the location on disk.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, stable enough to branch on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate let name: String
        public var description: String { name }

        /// The map (the most the store may grow to) is full and may not grow further.
        public static let mapFull = Code(name: "mapFull")
        /// The state directory does not exist and could not be created.
        public static let stateDirectoryMissing = Code(name: "stateDirectoryMissing")
        /// The state directory exists but this process may not write to it.
        public static let stateDirectoryUnwritable = Code(name: "stateDirectoryUnwritable")
        /// The data file is not an LMDB environment, or was written by an incompatible version.
        public static let notAStore = Code(name: "notAStore")
        /// The same environment is already open in this process.
        public static let alreadyOpen = Code(name: "alreadyOpen")
        /// The store has been closed.
        public static let closed = Code(name: "closed")
        /// A stored value could not be decoded (truncated, corrupt, or written by a newer version).
        public static let corruptValue = Code(name: "corruptValue")
        /// A stored key could not be decoded.
        public static let corruptKey = Code(name: "corruptKey")
        /// A key or value given by the caller cannot be stored (empty key, key too long).
        public static let invalidArgument = Code(name: "invalidArgument")
        /// All reader slots are in use.
        public static let readersFull = Code(name: "readersFull")
        /// A backup could not be written.
        public static let backupFailed = Code(name: "backupFailed")
        /// Any other LMDB failure.
        public static let lmdb = Code(name: "lmdb")
    }

    public let code: Code
    public let message: String
    /// The LMDB return code behind the error, when there is one.
    public let lmdbStatus: Int32?

    init(_ code: Code, _ message: String, lmdbStatus: Int32? = nil) {
        self.code = code
        self.message = message
        self.lmdbStatus = lmdbStatus
    }

    public var description: String { "StoreError.\(code): \(message)" }
}
