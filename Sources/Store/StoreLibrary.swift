import CLMDB

/// Facts about the linked LMDB library.
public enum StoreLibrary {
    /// The version of liblmdb this process loaded, e.g. "0.9.24".
    public static var version: String {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        _ = mdb_version(&major, &minor, &patch)
        return "\(major).\(minor).\(patch)"
    }
}
