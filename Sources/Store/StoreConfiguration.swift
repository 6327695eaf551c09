/// How to open a store.
public struct StoreConfiguration: Sendable {
    /// Where the LMDB environment lives.
    public enum Location: Sendable, Equatable {
        /// A state directory holding `data.mdb` and `lock.mdb`.
        case directory(String)
        /// A single data file, such as a backup written by ``Store/backup(to:)``; the lock file sits beside it.
        case file(String)

        var path: String {
            switch self {
            case .directory(let path), .file(let path): path
            }
        }
    }

    public var location: Location
    /// The initial map size in bytes: the most the data file may grow to before the map is grown.
    public var mapSize: Int
    /// The largest the map may grow to when it fills; `nil` or a value no larger than ``mapSize`` disables growth,
    /// so a full map fails writes with ``StoreError/Code/mapFull``.
    public var maximumMapSize: Int?
    /// Create the state directory (and its parents) when missing.
    public var createDirectory: Bool
    /// The most writes committed together in one transaction (one fsync). 1 turns group commit off.
    public var maximumBatchSize: Int
    /// Reader slots in the lock file, shared with other processes using the same store.
    public var maximumReaders: Int
    /// The source of "now" for expiry.
    public var clock: any WallClock

    public init(
        location: Location,
        mapSize: Int = 1 << 30,
        maximumMapSize: Int? = 64 << 30,
        createDirectory: Bool = true,
        maximumBatchSize: Int = 1024,
        maximumReaders: Int = 512,
        clock: any WallClock = SystemWallClock()
    ) {
        self.location = location
        self.mapSize = mapSize
        self.maximumMapSize = maximumMapSize
        self.createDirectory = createDirectory
        self.maximumBatchSize = max(1, maximumBatchSize)
        self.maximumReaders = maximumReaders
        self.clock = clock
    }

    /// A state directory with defaults for everything else.
    public static func directory(_ path: String) -> StoreConfiguration {
        StoreConfiguration(location: .directory(path))
    }
}
