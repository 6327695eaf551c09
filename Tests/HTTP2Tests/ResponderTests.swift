@testable import HTTP2
import Logging
import Routing
import Testing

@Suite("Responder")
struct ResponderTests {
    @Test func requestIDsAreShortDistinctAndOrdered() {
        let responder = Responder(responder: Router(), limits: .init(), logger: Logger(label: "test"))
        let ids = (0..<2000).map { _ in responder.nextRequestID() }
        #expect(Set(ids).count == ids.count)
        let prefix = ids[0].split(separator: "-")[0]
        for (offset, id) in ids.enumerated() {
            let parts = id.split(separator: "-")
            #expect(parts.count == 2 && parts[0] == prefix)
            #expect(UInt64(parts[1], radix: 36) == UInt64(offset + 1))
            #expect(id.utf8.count <= 15)
        }
    }
}
