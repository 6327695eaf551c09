import ASCIIText
import Tenancy
import JSON
package import HTTP2

/// HTTP pieces both MCP transports share: error bodies, content negotiation, event-stream responses.
package enum MCPHTTP {
    /// An HTTP error whose body is a JSON-RPC error without an id, as the Streamable HTTP spec suggests
    /// (clients such as the Python SDK surface its message).
    package static func jsonRPCError(status: Int, code: Int64, _ message: String, id: JSONRPCID? = nil, headers extra: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var response = HTTPResponse.json(JSONWriter.encode(JSONRPC.error(id, code: code, message: message)), status: status)
        for (name, value) in extra { response.headers.add(name, value) }
        return response
    }

    static func json(_ value: JSONValue, headers extra: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var response = HTTPResponse.json(JSONWriter.encode(value))
        for (name, value) in extra { response.headers.add(name, value) }
        return response
    }

    static func accepted() -> HTTPResponse { HTTPResponse(status: 202) }

    /// 429 with `Retry-After` and a JSON-RPC error naming the limit, for the request it refused.
    static func limitExceeded(_ exceeded: LimitExceeded, id: JSONRPCID?) -> HTTPResponse {
        jsonRPCError(status: 429, code: JSONRPCErrorCode.limitExceeded, exceeded.message, id: id, headers: ["retry-after": "\(exceeded.retryAfterSeconds)"])
    }

    /// What the client's `Accept` header allows: its media ranges, compared whole (parameters and quality
    /// values aside). No header allows everything.
    struct Accepts {
        var json = false
        var eventStream = false

        init(_ header: String?) {
            guard let header, !header.isEmpty else {
                json = true
                eventStream = true
                return
            }
            ASCII.forEachListElement(of: header) { range in
                if ASCII.equal(range, ignoringCase: "application/json") || ASCII.equal(range, ignoringCase: "application/*") {
                    json = true
                } else if ASCII.equal(range, ignoringCase: "text/event-stream") || ASCII.equal(range, ignoringCase: "text/*") {
                    eventStream = true
                } else if ASCII.equal(range, ignoringCase: "*/*") {
                    json = true
                    eventStream = true
                }
            }
        }
    }

    /// Whether the request body is declared as JSON (a missing Content-Type is tolerated).
    static func isJSON(contentType: String?) -> Bool {
        guard let contentType else { return true }
        return contentType.containsASCII("application/json") || contentType.containsASCII("+json")
    }

    static let eventStreamHeaders: HTTPHeaders = [
        "content-type": "text/event-stream",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
    ]

    /// A `text/event-stream` response that writes a subscription's events until it ends or the client
    /// leaves; `prelude` is written first (the legacy `endpoint` event), `onEnd` runs when it stops.
    static func eventStream(
        _ subscription: StreamSubscription,
        session: MCPSession,
        headers extra: HTTPHeaders = HTTPHeaders(),
        prelude: [UInt8]? = nil,
        onEnd: @escaping @Sendable () -> Void = {}
    ) -> HTTPResponse {
        var headers = eventStreamHeaders
        for (name, value) in extra { headers.add(name, value) }
        return HTTPResponse(status: 200, headers: headers, body: .stream { writer in
            defer {
                session.detach(subscription)
                onEnd()
            }
            if let prelude { try await writer.write(prelude) }
            if let id = subscription.primingID { try await writer.write(ServerSentEvents.priming(id: id)) }
            for await item in subscription.items {
                switch item {
                case .event(let bytes): try await writer.write(bytes)
                case .keepAlive: try await writer.write(ServerSentEvents.keepAlive)
                }
            }
        })
    }
}
