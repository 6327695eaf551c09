@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import Testing

/// A session's bounded memory: the replay buffer and the per-stream queue.
@Suite("MCP session bounds")
struct MCPSessionTests {
    static func session(replayEvents: Int = 8, replayBytes: Int = 1 << 20, queuedEvents: Int = 300, counters: MCPActivityCounters = MCPActivityCounters()) -> MCPSession {
        MCPSession(
            id: "s", transport: .streamableHTTP, customer: .singleUser, version: .v2025_06_18,
            limits: .init(replayEvents: replayEvents, replayBytes: replayBytes, queuedEvents: queuedEvents, requestsInFlight: 4),
            counters: counters
        )
    }

    static func drain(_ subscription: StreamSubscription) async -> [String] {
        var seen: [String] = []
        for await item in subscription.items {
            if case .event(let bytes) = item { seen.append(String(decoding: bytes, as: UTF8.self)) }
        }
        return seen
    }

    @Test func theReplayBufferKeepsOnlyTheNewestEvents() async throws {
        let session = Self.session(replayEvents: 8)
        for index in 1...100 { session.publish(["n": .integer(Int64(index))], on: 0) }
        let resumed = try #require(session.subscribe(stream: 0, after: 0))
        session.end()
        let events = await Self.drain(resumed)
        #expect(events.count == 8, "\(events)")
        #expect(events.first?.contains("\"n\":93") == true && events.last?.contains("\"n\":100") == true, "\(events)")
        #expect(events.first?.hasPrefix("id: 0-93\n") == true, "\(events)")
    }

    @Test func theReplayBufferIsBoundedInBytes() async throws {
        let session = Self.session(replayEvents: 1000, replayBytes: 4096)
        let big = String(repeating: "x", count: 1000)
        for _ in 1...50 { session.publish(["text": .string(big)], on: 0) }
        let resumed = try #require(session.subscribe(stream: 0, after: 0))
        session.end()
        let events = await Self.drain(resumed)
        #expect(events.count <= 4 && !events.isEmpty, "\(events.count) events kept")
    }

    @Test func aSubscriberThatDoesNotReadIsCutOff() async throws {
        let counters = MCPActivityCounters()
        let session = Self.session(replayEvents: 4, queuedEvents: 20, counters: counters)
        let stalled = try #require(session.subscribe(stream: 0, after: nil))
        #expect(counters.openStreams == 1)
        for index in 1...25 { session.publish(["n": .integer(Int64(index))], on: 0) }
        // The queue held 20; the 21st was refused, so the stream ends after what it queued.
        #expect(counters.openStreams == 0)
        let events = await Self.drain(stalled)
        #expect(events.count == 20)
        // The client can resume from the replay buffer.
        let resumed = try session.resumePoint("0-20").get()
        let again = try #require(session.subscribe(stream: resumed.stream, after: resumed.after))
        session.end()
        let rest = await Self.drain(again)
        #expect(rest.count == 4 && rest.last?.contains("\"n\":25") == true, "\(rest)")
    }

    @Test func resumePointsMustBeIssuedBySession() {
        let session = Self.session()
        session.publish(["n": 1], on: 0)
        #expect((try? session.resumePoint("0-1").get()) != nil)
        for bad in ["", "x", "0-", "-1", "0-2", "5-1", "0-1-2", "a-b"] {
            #expect((try? session.resumePoint(bad).get()) == nil, "\(bad)")
        }
    }
}
