import CLMDB
@testable import Store

/// Counts entries under a cursor, expired or not (the public API hides expired ones).
func countEntries(_ cursor: OpaquePointer) throws(StoreError) -> Int {
    var key = MDB_val()
    var data = MDB_val()
    var total = 0
    var status = mdb_cursor_get(cursor, &key, &data, MDB_FIRST)
    while status == 0 {
        total += 1
        status = mdb_cursor_get(cursor, &key, &data, MDB_NEXT)
    }
    return total
}

/// Writes raw bytes (no header) under a key, to simulate corruption.
func putCorrupt(_ store: Store, _ keyspace: KeyspaceName, key: String, raw: [UInt8]) async throws {
    try await store.write { txn in try txn.handle.putExact(keyspace, Array(key.utf8), raw) }
}
