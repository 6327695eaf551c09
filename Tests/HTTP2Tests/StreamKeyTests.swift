@testable import HTTP2
import Testing

@Suite("Stream keys")
struct StreamKeyTests {
    /// The cheap hash must still spread ids that share their low bits (a client may skip ids to build them)
    /// over a table's buckets, which are picked by the low bits of the hash.
    @Test func idsThatShareLowBitsLandInDifferentBuckets() {
        let ids = (0..<100).map { Int32(1 + ($0 << 20)) }
        let buckets = Set(ids.map { StreamKey($0)._rawHashValue(seed: 0) & 127 })
        #expect(buckets.count >= 50, "100 ids fell into \(buckets.count) of 128 buckets")
        let consecutive = Set((0..<100).map { StreamKey(Int32(1 + 2 * $0))._rawHashValue(seed: 0) & 127 })
        #expect(consecutive.count >= 50, "100 consecutive ids fell into \(consecutive.count) of 128 buckets")
    }

    @Test func aDictionaryKeyedByStreamFindsEveryStream() {
        var table: [StreamKey: Int32] = [:]
        for id in stride(from: Int32(1), to: 20_000, by: 2) { table[StreamKey(id)] = id }
        for id in stride(from: Int32(1), to: 20_000, by: 4) { table.removeValue(forKey: StreamKey(id)) }
        #expect(table.count == 5_000)
        #expect(stride(from: Int32(3), to: 20_000, by: 4).allSatisfy { table[StreamKey($0)] == $0 })
        #expect(table[StreamKey(1)] == nil)
    }
}
