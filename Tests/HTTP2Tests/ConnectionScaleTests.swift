import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("Many connections")
struct ConnectionScaleTests {
    /// Raises this process's open-file limit so the server side of 1,000 connections fits.
    static func raiseFileLimit(to wanted: rlim_t) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < wanted else { return }
        limit.rlim_cur = min(wanted, limit.rlim_max)
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    @Test func thousandIdleConnectionsWhileRequestsStillSucceed() async throws {
        Self.raiseFileLimit(to: 8192)
        let count = 1000
        try await withServer(limits: { $0.headerTimeout = .seconds(120); $0.idleTimeout = .seconds(120) }) { server in
            let holder = try ChildProcess.python(Paths.script("h1_probe.py"), ["hold", "--port", "\(server.port)", "--count", "\(count)", "--mixed", "--seconds", "30"])
            guard await holder.waitUntil(seconds: 60, { $0.output.contains("holding \(count)") }) else {
                Issue.record("could not open \(count) connections: \(await holder.finish(seconds: 1))")
                return
            }
            let deadline = ContinuousClock.now + .seconds(30)
            while server.server.connectionCount < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(server.server.connectionCount >= count, "the server holds \(server.server.connectionCount) connections")

            try await expectStillServing(server)
            let nghttp = try await Nghttp.run(["-n", "-s", server.url("/fast"), server.url("/echo/x")])
            #expect(nghttp.status == 0, "\(nghttp)")

            holder.closeInput()
            let result = await holder.finish(seconds: 60)
            let json = try result.json()
            #expect(json[int: "held"] == count, "\(json)")
            #expect(json[int: "closed_by_server"] == 0, "the server dropped idle connections: \(json)")
            let drained = await server.waitForConnections(atMost: 0, seconds: 30)
            #expect(drained, "\(server.server.connectionCount) connections still open after the client closed them")
        }
    }
}
