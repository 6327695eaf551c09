import Foundation
@testable import HTTP2
import TestSupport
import Testing

@Suite("Graceful shutdown")
struct ShutdownTests {
    /// Starts `server.stop()` in the background; returns the task and when it started.
    static func beginShutdown(_ server: TestServer) -> (task: Task<Duration, Never>, started: ContinuousClock.Instant) {
        let started = ContinuousClock.now
        let task = Task {
            await server.stop()
            return ContinuousClock.now - started
        }
        return (task, started)
    }

    /// Long enough that a loaded machine never hits it when the connections finish by themselves.
    static let grace: Duration = .seconds(15)

    /// The shutdown ended because every connection finished, not because the grace period ran out.
    static func expectFinishedWithinGrace(_ server: TestServer, _ shutdown: Task<Duration, Never>, sourceLocation: SourceLocation = #_sourceLocation) async {
        let took = await shutdown.value
        #expect(took < grace, "shutdown took \(took)", sourceLocation: sourceLocation)
        let forced = server.logs.all.filter { $0.message.contains("after the grace period") }
        #expect(forced.isEmpty, "connections had to be closed by force: \(forced)", sourceLocation: sourceLocation)
    }

    /// New connections are refused once the listener is closed (curl exit 7); tries for a while.
    static func expectNewConnectionsRefused(_ server: TestServer, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var last: ChildProcess.Result?
        for _ in 0..<50 {
            let result = try await Curl.run(["--http1.1", "--connect-timeout", "5", server.url("/fast")], seconds: 20)
            last = result
            if result.status == 7 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("new connections were still accepted during shutdown: \(String(describing: last))", sourceLocation: sourceLocation)
    }

    @Test func http1RequestInFlightCompletesAndNewConnectionsAreRefused() async throws {
        try await withServer(shutdownGracePeriod: Self.grace) { server in
            let client = try ChildProcess("curl", ["-sS", "--http1.1", "-w", " %{http_code}", server.url("/slow?ms=0&gate=1")], unsetting: ChildProcess.proxyVariables)
            client.closeInput()
            #expect(await server.probe.wait { $0.slowStartedCount == 1 }, "the slow request never reached its handler")
            let (shutdown, _) = Self.beginShutdown(server)
            try await Self.expectNewConnectionsRefused(server)
            // Only now, with the shutdown under way, may the in-flight request finish.
            server.probe.openGate()
            let result = await client.finish(seconds: 20)
            #expect(result.status == 0, "\(result)")
            #expect(result.output == "slow done after 0 ms 200", "the in-flight request did not complete: \(result)")
            await Self.expectFinishedWithinGrace(server, shutdown)
        }
    }

    @Test func http2RequestInFlightCompletesAfterGoaway() async throws {
        try await withServer(shutdownGracePeriod: Self.grace) { server in
            let client = try ChildProcess("nghttp", ["-v", server.url("/slow?ms=0&gate=1")])
            client.closeInput()
            #expect(await server.probe.wait { $0.slowStartedCount == 1 }, "the slow request never reached its handler")
            let (shutdown, _) = Self.beginShutdown(server)
            try await Self.expectNewConnectionsRefused(server)
            // nghttp prints frames as they come: the in-flight request may finish once GOAWAY has arrived.
            let sawGoaway = await client.waitUntil(seconds: 20) { $0.output.contains("recv GOAWAY frame") }
            server.probe.openGate()
            let result = await client.finish(seconds: 20)
            #expect(sawGoaway, "no GOAWAY while the request was in flight: \(result)")
            #expect(result.status == 0, "\(result)")
            #expect(result.output.contains("recv GOAWAY frame"), "the client never saw GOAWAY: \(result)\nserver log:\n\(server.logs.all.map(\.description).joined(separator: "\n"))")
            #expect(result.output.contains(":status: 200"), "\(result)")
            #expect(result.output.contains("slow done after 0 ms"), "\(result)")
            #expect(!result.output.contains("recv RST_STREAM"), "\(result)")
            await Self.expectFinishedWithinGrace(server, shutdown)
        }
    }

    @Test(arguments: ["--http1.1", "--http2-prior-knowledge"])
    func largeResponseFinishingDuringShutdownArrivesWhole(protocolOption: String) async throws {
        try await withServer(shutdownGracePeriod: Self.grace) { server in
            let size = 32 << 20
            let client = try ChildProcess("curl", ["-sS", protocolOption, "-o", "/dev/null", "-w", "%{http_code} %{size_download}", server.url("/slow?ms=0&gate=1&bytes=\(size)")], unsetting: ChildProcess.proxyVariables)
            client.closeInput()
            #expect(await server.probe.wait { $0.slowStartedCount == 1 }, "the slow request never reached its handler")
            let (shutdown, _) = Self.beginShutdown(server)
            try await Self.expectNewConnectionsRefused(server)
            // After the final GOAWAY (100 ms after the first), so the connection closes as the response ends.
            try await Task.sleep(for: .milliseconds(300))
            server.probe.openGate()
            let result = await client.finish(seconds: 30)
            #expect(result.status == 0, "\(result)")
            #expect(result.output == "200 \(size)", "the response was cut short: \(result)")
            await Self.expectFinishedWithinGrace(server, shutdown)
        }
    }

    @Test func http1StreamingResponseEndsCleanly() async throws {
        try await withServer(shutdownGracePeriod: Self.grace) { server in
            // curl exits 18 ("transfer closed with outstanding read data") on a chunked body cut short.
            let client = try ChildProcess("curl", ["-sS", "-N", "--http1.1", "-w", "\n%{http_code}", server.url("/forever?id=h1sse")], unsetting: ChildProcess.proxyVariables)
            client.closeInput()
            #expect(await server.probe.wait { ($0.producer("h1sse")?.handed ?? 0) > 0 }, "the stream never started")
            let (shutdown, _) = Self.beginShutdown(server)
            let result = await client.finish(seconds: 20)
            #expect(result.status == 0, "the client saw an incomplete response: \(result)")
            #expect(result.output.hasPrefix("data: tick 0\n\n") && result.output.hasSuffix("\n\n\n200"), "\(result)")
            await Self.expectFinishedWithinGrace(server, shutdown)
            #expect(["cancelled", "closed"].contains(server.probe.producer("h1sse")?.outcome ?? ""), "\(String(describing: server.probe.producer("h1sse")))")
        }
    }

    @Test func http2StreamingResponseEndsCleanly() async throws {
        try await withServer(shutdownGracePeriod: Self.grace) { server in
            let client = try ChildProcess("nghttp", ["-v", server.url("/forever?id=h2sse")])
            client.closeInput()
            #expect(await server.probe.wait { ($0.producer("h2sse")?.handed ?? 0) > 0 }, "the stream never started")
            let (shutdown, _) = Self.beginShutdown(server)
            let result = await client.finish(seconds: 20)
            #expect(result.status == 0, "\(result)")
            #expect(result.output.contains("recv GOAWAY frame"), "\(result)")
            #expect(result.output.contains("data: tick 0"), "\(result)")
            #expect(!result.output.contains("recv RST_STREAM"), "the stream was reset instead of ended: \(result)")
            // The response's last DATA frame carries END_STREAM.
            let lastData = result.output.components(separatedBy: "recv DATA frame").last ?? ""
            #expect(lastData.contains("; END_STREAM"), "\(result)")
            await Self.expectFinishedWithinGrace(server, shutdown)
        }
    }

    @Test func idleConnectionsCloseAtOnceAndShutdownIsQuick() async throws {
        try await withServer(shutdownGracePeriod: Self.grace) { server in
            let h1 = try ChildProcess.python(Paths.script("h1_probe.py"), ["idle", "--port", "\(server.port)", "--seconds", "20"])
            let h2 = try ChildProcess.python(Paths.script("h2_probe.py"), ["idle", "--port", "\(server.port)", "--seconds", "20"])
            let silent = try ChildProcess.python(Paths.script("h1_probe.py"), ["silent", "--port", "\(server.port)", "--seconds", "20"])
            // Wait until all three are connected (two have had their answer).
            let deadline = ContinuousClock.now + .seconds(20)
            while server.server.connectionCount < 3 || server.logs.accessLines.count < 2, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let shutdownStarted = Date().timeIntervalSince1970
            let (shutdown, _) = Self.beginShutdown(server)
            let took = await shutdown.value
            // Well under the 15 s grace period (what waiting for them would take), with room for a loaded machine.
            #expect(took < .seconds(10), "shutdown with only idle connections took \(took)")
            for client in [h1, h2, silent] {
                client.closeInput()
                let result = await client.finish(seconds: 20)
                let json = try result.json()
                #expect(json[bool: "closed"] == true, "\(json)")
                // Closed by the shutdown, not by a timeout (they are 10 s and 75 s here).
                let waited = (json[double: "closed_at"] ?? .infinity) - shutdownStarted
                #expect(waited < 10, "the connection was closed \(waited) s after the shutdown began: \(json)")
            }
        }
    }
}
