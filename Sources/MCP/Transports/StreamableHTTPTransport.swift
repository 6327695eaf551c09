import Tenancy
import ASCIIText
import JSON
import HTTP2

/// MCP Streamable HTTP at `/mcp` (protocol revisions 2025-03-26 and later).
///
/// - `POST` carries one JSON-RPC message (or, for sessions on 2025-03-26, a batch). Notifications and
///   responses get 202 with no body. Requests are answered with **`application/json`** — one response
///   (or an array for a batch) — which is the fastest and what every client reads. The answer is a
///   **`text/event-stream`** instead when the client accepts only that, or when a request asks for
///   progress (`_meta.progressToken`) and the client accepts event streams: then progress notifications
///   and log messages arrive before the response on the same stream, and a client that loses the stream
///   can resume it with `Last-Event-ID`.
/// - `GET` opens the session's standalone server-to-client stream (one at a time; a new GET replaces the
///   old stream), or resumes any stream of the session from `Last-Event-ID`.
/// - `DELETE` ends the session (204); later requests with its id get 404.
///
/// `initialize` creates the session and returns its id in `Mcp-Session-Id`; every later request must
/// carry it (400 without, 404 for an unknown or ended one). `MCP-Protocol-Version`, when sent, must name
/// a supported revision (400 otherwise); absent, 2025-03-26 is assumed.
struct StreamableHTTPTransport: Sendable {
    let sessions: SessionRegistry
    let handler: MCPProtocolHandler

    static let sessionHeader = "mcp-session-id"
    static let versionHeader = "mcp-protocol-version"

    // MARK: POST

    // Checks and synchronous handling stay out of line (`@inline(never)`) so this async frame stays small
    // (docs/adr/0016-small-async-frames.md).
    func post(_ request: HTTPRequest, customer: Customer) async -> HTTPResponse {
        switch accept(request, customer: customer) {
        case .answered(let response): return response
        case .initialize(let call, let accepts): return await initialize(call, customer: customer, accepts: accepts)
        case .request(let call, let session, let accepts): return await answer(call, session: session, accepts: accepts)
        case .batch(let elements, let accepts): return await postBatch(elements, request, customer: customer, accepts: accepts)
        }
    }

    /// What a POST needs once its body has been read.
    private enum PostedMessage {
        /// Refused, or a notification or response already handled.
        case answered(HTTPResponse)
        case initialize(JSONRPCRequest, MCPHTTP.Accepts)
        case request(JSONRPCRequest, MCPSession, MCPHTTP.Accepts)
        case batch([JSONValue], MCPHTTP.Accepts)
    }

    /// Checks the POST's headers, reads its body and handles what needs no answer (notifications and
    /// responses); one message is handled without the arrays a batch needs.
    @inline(never)
    private func accept(_ request: HTTPRequest, customer: Customer) -> PostedMessage {
        guard MCPHTTP.isJSON(contentType: request.headers["content-type"]) else {
            return .answered(MCPHTTP.jsonRPCError(status: 415, code: JSONRPCErrorCode.invalidRequest, "the body must be a JSON-RPC message sent as Content-Type: application/json"))
        }
        let accepts = MCPHTTP.Accepts(request.headers["accept"])
        guard accepts.json || accepts.eventStream else {
            return .answered(MCPHTTP.jsonRPCError(status: 406, code: JSONRPCErrorCode.invalidRequest, "the Accept header must allow application/json or text/event-stream (or */*)"))
        }
        if let problem = Self.versionProblem(request) { return .answered(problem) }

        let document: JSONValue
        do {
            document = try JSONParser.parse(request.body)
        } catch {
            return .answered(MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.parseError, "the body is not valid JSON (\(error)); send one JSON-RPC message"))
        }
        if case .array(let list) = document {
            guard !list.isEmpty else {
                return .answered(MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.invalidRequest, "the batch is empty; send at least one JSON-RPC message"))
            }
            return .batch(list, accepts)
        }
        let message: JSONRPCMessage
        switch JSONRPC.message(document) {
        case .success(let found): message = found
        case .failure(let problem):
            return .answered(MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.invalidRequest, "not a valid JSON-RPC 2.0 message: \(problem.reason)", id: problem.id))
        }
        if case .request(let call) = message, call.method == "initialize" {
            return .initialize(call, accepts)
        }
        let session: MCPSession
        switch lookup(request, customer: customer) {
        case .success(let found): session = found
        case .failure(let response): return .answered(response.response)
        }
        switch message {
        case .request(let call):
            return .request(call, session, accepts)
        case .notification(let method, let params):
            handler.receive(notification: method, params: params, session: session)
            return .answered(MCPHTTP.accepted())
        case .response:
            session.touch()
            return .answered(MCPHTTP.accepted())
        }
    }

    /// A JSON-RPC batch (protocol 2025-03-26 only): invalid members get error responses, the others are
    /// handled in order, and the requests' responses come back as one array.
    private func postBatch(_ elements: [JSONValue], _ request: HTTPRequest, customer: Customer, accepts: MCPHTTP.Accepts) async -> HTTPResponse {
        var messages: [JSONRPCMessage] = []
        var invalid: [JSONValue] = []
        for element in elements {
            switch JSONRPC.message(element) {
            case .success(let message): messages.append(message)
            case .failure(let problem):
                invalid.append(JSONRPC.error(problem.id, code: JSONRPCErrorCode.invalidRequest, message: "not a valid JSON-RPC 2.0 message: \(problem.reason)"))
            }
        }
        if messages.contains(where: Self.isInitialize) {
            return MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.invalidRequest, "initialize must be sent on its own, not in a batch")
        }
        let session: MCPSession
        switch lookup(request, customer: customer) {
        case .success(let found): session = found
        case .failure(let response): return response.response
        }
        guard session.version.allowsBatches else {
            return MCPHTTP.jsonRPCError(
                status: 400, code: JSONRPCErrorCode.invalidRequest,
                "JSON-RPC batches are accepted only from clients on protocol 2025-03-26; this session uses \(session.version.rawValue), so send one message per request"
            )
        }
        var requests: [JSONRPCRequest] = []
        for message in messages {
            switch message {
            case .notification(let method, let params): handler.receive(notification: method, params: params, session: session)
            case .response: session.touch()
            case .request(let call): requests.append(call)
            }
        }
        if requests.isEmpty, invalid.isEmpty { return MCPHTTP.accepted() }
        if Self.answersAsEventStream(accepts, wantsProgress: requests.contains(where: \.wantsProgress)),
            let streamed = eventStreamAnswer(requests, invalid: invalid, session: session)
        {
            return streamed
        }
        var responses = invalid
        for call in requests { responses.append(await jsonAnswer(to: call, session: session).message) }
        return MCPHTTP.json(.array(responses))
    }

    private static func isInitialize(_ message: JSONRPCMessage) -> Bool {
        if case .request(let call) = message, call.method == "initialize" { true } else { false }
    }

    private func initialize(_ call: JSONRPCRequest, customer: Customer, accepts: MCPHTTP.Accepts) async -> HTTPResponse {
        let version = MCPProtocolVersion.negotiate(call.params?["protocolVersion"]?.stringValue)
        let session: MCPSession
        do {
            session = try sessions.create(transport: .streamableHTTP, customer: customer, version: version)
        } catch {
            return MCPHTTP.jsonRPCError(status: 503, code: JSONRPCErrorCode.serverBusy, error.message, id: call.id, headers: ["retry-after": "30"])
        }
        return await answer(call, session: session, accepts: accepts, headers: [Self.sessionHeader: session.id])
    }

    /// Answers one request as JSON, or as an event stream when the client needs one.
    private func answer(_ call: JSONRPCRequest, session: MCPSession, accepts: MCPHTTP.Accepts, headers: HTTPHeaders = HTTPHeaders()) async -> HTTPResponse {
        if let answered = answerWithoutWaiting(call, session: session, accepts: accepts, headers: headers) { return answered }
        switch await jsonAnswer(to: call, session: session) {
        case .response(let response): return MCPHTTP.json(response, headers: headers)
        case .limited(let id, let exceeded): return MCPHTTP.limitExceeded(exceeded, id: id)
        }
    }

    /// The event stream the answer goes out on; nil when the client waits for a JSON answer.
    @inline(never)
    private func answerWithoutWaiting(_ call: JSONRPCRequest, session: MCPSession, accepts: MCPHTTP.Accepts, headers: HTTPHeaders) -> HTTPResponse? {
        guard Self.answersAsEventStream(accepts, wantsProgress: call.wantsProgress) else { return nil }
        return eventStreamAnswer([call], invalid: [], session: session, headers: headers)
    }

    /// JSON is the fastest answer and what every client reads; an event stream when the client accepts
    /// nothing else, or asks for progress and accepts event streams (progress then arrives before the answer).
    private static func answersAsEventStream(_ accepts: MCPHTTP.Accepts, wantsProgress: Bool) -> Bool {
        accepts.eventStream && (!accepts.json || wantsProgress)
    }

    /// The requests answered on a new event stream of the session (nil when the session has ended).
    private func eventStreamAnswer(_ requests: [JSONRPCRequest], invalid: [JSONValue], session: MCPSession, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse? {
        guard let subscription = session.openAnswerStream() else { return nil }
        let handler = self.handler
        let stream = subscription.stream
        Task {
            for error in invalid { session.publish(error, on: stream) }
            for call in requests {
                if let reply = await handler.respond(call, session: session, stream: stream, clientWaits: false) {
                    session.publish(reply.message, on: stream)
                }
            }
            session.complete(stream: stream)
        }
        return MCPHTTP.eventStream(subscription, session: session, headers: headers)
    }

    /// The response to a request answered as JSON; messages produced on the way (progress, log messages) go
    /// to the standalone stream (GET), buffered for resumption.
    private func jsonAnswer(to call: JSONRPCRequest, session: MCPSession) async -> MCPReply {
        let reply = await handler.respond(call, session: session, stream: 0, clientWaits: true)
        return reply ?? .response(JSONRPC.error(call.id, code: JSONRPCErrorCode.requestCancelled, message: "the request was cancelled"))
    }

    // MARK: GET

    func get(_ request: HTTPRequest, customer: Customer) -> HTTPResponse {
        guard MCPHTTP.Accepts(request.headers["accept"]).eventStream else {
            return MCPHTTP.jsonRPCError(status: 406, code: JSONRPCErrorCode.invalidRequest, "GET /mcp opens a server-sent event stream; send Accept: text/event-stream")
        }
        if let problem = Self.versionProblem(request) { return problem }
        let session: MCPSession
        switch lookup(request, customer: customer) {
        case .success(let found): session = found
        case .failure(let response): return response.response
        }
        var stream = 0
        var after: UInt64? = nil
        if let lastEventID = request.headers["last-event-id"], !lastEventID.isEmpty {
            switch session.resumePoint(lastEventID) {
            case .success(let point):
                stream = point.stream
                after = point.after
            case .failure:
                return MCPHTTP.jsonRPCError(status: 400, code: JSONRPCErrorCode.invalidRequest, "the Last-Event-ID \(lastEventID.prefix(100)) was not issued in this session; reconnect without it")
            }
        }
        guard let subscription = session.subscribe(stream: stream, after: after) else {
            return Self.unknownSession
        }
        return MCPHTTP.eventStream(subscription, session: session)
    }

    // MARK: DELETE

    func delete(_ request: HTTPRequest, customer: Customer) -> HTTPResponse {
        if let problem = Self.versionProblem(request) { return problem }
        switch lookup(request, customer: customer) {
        case .success(let session):
            sessions.end(session, reason: "deleted by the client")
            return HTTPResponse(status: 204)
        case .failure(let response):
            return response.response
        }
    }

    // MARK: Shared checks

    struct Refusal: Error {
        let response: HTTPResponse
    }

    private func lookup(_ request: HTTPRequest, customer: Customer) -> Result<MCPSession, Refusal> {
        guard let id = request.headers[Self.sessionHeader], !id.isEmpty else {
            return .failure(Refusal(response: MCPHTTP.jsonRPCError(
                status: 400, code: JSONRPCErrorCode.invalidRequest,
                "the Mcp-Session-Id header is missing; send initialize first and then the session id it returns with every request"
            )))
        }
        guard let session = sessions.session(id, customer: customer, transport: .streamableHTTP) else {
            return .failure(Refusal(response: Self.unknownSession))
        }
        return .success(session)
    }

    static var unknownSession: HTTPResponse {
        MCPHTTP.jsonRPCError(status: 404, code: JSONRPCErrorCode.invalidRequest, "this MCP session is unknown or has ended; start a new one with initialize")
    }

    /// 400 when `MCP-Protocol-Version` names a revision this server does not speak; absent is fine.
    static func versionProblem(_ request: HTTPRequest) -> HTTPResponse? {
        guard let value = request.headers[versionHeader] else { return nil }
        // Clients send the bare revision: an exact match needs no trimming (nor a copy).
        if MCPProtocolVersion(rawValue: value) != nil { return nil }
        let trimmed = value.trimmingHTTPWhitespace
        if MCPProtocolVersion(rawValue: String(trimmed)) != nil { return nil }
        return MCPHTTP.jsonRPCError(
            status: 400, code: JSONRPCErrorCode.invalidRequest,
            "unsupported MCP-Protocol-Version '\(trimmed.prefix(40))'; this server supports \(MCPProtocolVersion.supportedList)"
        )
    }
}
