import Tenancy
import JSON
import HTTP2

/// MCP's legacy HTTP+SSE transport (protocol 2024-11-05), still used by older clients.
///
/// `GET /sse` opens a session and its stream; the first event is `event: endpoint` whose data is the URL
/// to POST messages to (`/messages?sessionId=…`). POSTs there get 202 at once; every answer and
/// notification goes out on the stream as `event: message`, an answer only after its POST's 202. Idle streams get keep-alive comments. The
/// session ends when its stream closes; its id then gets 404.
struct LegacySSETransport: Sendable {
    let sessions: SessionRegistry
    let handler: MCPProtocolHandler

    static let messagesPath = "/messages"

    func open(_ request: HTTPRequest, customer: Customer) -> HTTPResponse {
        let session: MCPSession
        do {
            session = try sessions.create(transport: .legacySSE, customer: customer, version: .v2024_11_05)
        } catch {
            return .error(503, error.message, headers: ["retry-after": "30"])
        }
        guard let subscription = session.subscribe(stream: 0, after: nil) else {
            return .error(503, "the session ended before its stream opened; connect again")
        }
        let endpoint = ServerSentEvents.event(id: nil, name: "endpoint", data: Array("\(Self.messagesPath)?sessionId=\(session.id)".utf8))
        let sessions = self.sessions
        return MCPHTTP.eventStream(subscription, session: session, prelude: endpoint) {
            sessions.end(session, reason: "stream closed")
        }
    }

    func message(_ request: HTTPRequest, customer: Customer) async -> HTTPResponse {
        guard let id = request.queryValue("sessionId") ?? request.queryValue("session_id"), !id.isEmpty else {
            return MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.invalidRequest, "the sessionId query parameter is missing; POST to the URL the endpoint event of GET /sse gave")
        }
        guard let session = sessions.session(id, customer: customer, transport: .legacySSE) else {
            return MCPHTTP.jsonRPCError(status: 404, code: JSONRPCErrorCode.invalidRequest, "this SSE session is unknown or has ended; open a new one with GET /sse")
        }
        guard MCPHTTP.isJSON(contentType: request.headers["content-type"]) else {
            return MCPHTTP.jsonRPCError(status: 415, code: JSONRPCErrorCode.invalidRequest, "the body must be a JSON-RPC message sent as Content-Type: application/json")
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(request.body)
        } catch {
            return MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.parseError, "the body is not valid JSON (\(error)); send one JSON-RPC message")
        }
        var elements = [document]
        if case .array(let list) = document {
            guard session.version.allowsBatches, !list.isEmpty else {
                return MCPHTTP.jsonRPCError(
                    status: 400, code: JSONRPCErrorCode.invalidRequest,
                    "JSON-RPC batches are accepted only from clients on protocol 2025-03-26; this session uses \(session.version.rawValue), so send one message per request"
                )
            }
            elements = list
        }
        var requests: [JSONRPCRequest] = []
        for element in elements {
            switch JSONRPC.message(element) {
            case .success(.request(let request)): requests.append(request)
            case .success(.notification(let method, let params)): handler.receive(notification: method, params: params, session: session)
            case .success(.response): session.touch()
            case .failure(let problem):
                return MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.invalidRequest, "not a valid JSON-RPC 2.0 message: \(problem.reason)", id: problem.id)
            }
        }
        var accepted = MCPHTTP.accepted()
        if !requests.isEmpty {
            let handler = self.handler
            let pending = requests
            // Only once the 202 is out, as the TypeScript SDK's server does: a client that stops after
            // reading the answer on the stream would otherwise abort a POST still waiting for its 202.
            accepted.whenSent = {
                Task {
                    for request in pending {
                        if let reply = await handler.respond(request, session: session, stream: 0, clientWaits: false) {
                            session.publish(reply.message, on: 0)
                        }
                    }
                }
            }
        }
        return accepted
    }
}
