import ToolRuntime
import Tenancy
import JSON

/// The MCP methods: initialize, ping, tools/list, tools/call, logging/setLevel, and the client's
/// notifications. Transport-neutral: it reads a request and a session and returns the answer.
// A class: every request's closures capture it (docs/adr/0015-per-request-values-as-one-reference.md).
final class MCPProtocolHandler: Sendable {
    let tools: any ToolCaller
    let pageSize: Int
    let serverVersion: String

    init(tools: any ToolCaller, pageSize: Int, serverVersion: String) {
        self.tools = tools
        self.pageSize = pageSize
        self.serverVersion = serverVersion
    }

    static let serverName = "hermes-appliance"
    static let instructions = "Hermes Appliance lets you send and read messages and posts on messaging and social platforms. Call whoami to see who you are acting for; the sandbox_* tools work without any platform."

    // MARK: Notifications

    func receive(notification method: String, params: JSONObject?, session: MCPSession) {
        switch method {
        case "notifications/initialized":
            session.markInitialized()
        case "notifications/cancelled":
            if let id = params?["requestId"].flatMap(JSONRPCID.init) { session.cancel(id) }
        default:
            // notifications/progress, notifications/roots/list_changed, …: nothing to do.
            break
        }
        session.touch()
    }

    // MARK: Requests

    /// The reply to one request, or nil when the client cancelled it (no response is due then). Messages
    /// the request produces on the way (progress, log messages) go out on the session's stream `stream`.
    /// `clientWaits`: the client waits on its HTTP request for this answer (the session is not idle meanwhile).
    func respond(_ request: JSONRPCRequest, session: MCPSession, stream: Int, clientWaits: Bool) async -> MCPReply? {
        guard request.method == "tools/call" else {
            session.touch()
            return .response(respondAtOnce(request, session: session))
        }
        do {
            return try await callTool(id: request.id, request.params, session: session, stream: stream, clientWaits: clientWaits)
        } catch {
            return .response(JSONRPC.error(request.id, code: error.code, message: error.message))
        }
    }

    /// The methods that answer without waiting for anything; out of line so the caller's async frame stays small
    /// (docs/adr/0016-small-async-frames.md).
    @inline(never)
    private func respondAtOnce(_ request: JSONRPCRequest, session: MCPSession) -> JSONValue {
        let id = request.id
        let params = request.params
        do throws(MCPMethodError) {
            switch request.method {
            case "initialize": return JSONRPC.result(id, initialize(params, session: session))
            case "ping": return JSONRPC.result(id, .object(JSONObject()))
            case "tools/list": return JSONRPC.result(id, try listTools(params, session: session))
            case "logging/setLevel": return JSONRPC.result(id, try setLevel(params, session: session))
            default:
                return JSONRPC.error(id, code: JSONRPCErrorCode.methodNotFound, message: "the method '\(request.method)' is not supported; this server offers initialize, ping, tools/list, tools/call and logging/setLevel")
            }
        } catch {
            return JSONRPC.error(id, code: error.code, message: error.message)
        }
    }

    /// Negotiates the protocol revision and describes the server.
    func initialize(_ params: JSONObject?, session: MCPSession) -> JSONValue {
        let version = MCPProtocolVersion.negotiate(params?["protocolVersion"]?.stringValue)
        session.negotiated(version, clientName: params?["clientInfo"]?["name"]?.stringValue)
        var info: JSONObject = ["name": .string(Self.serverName), "version": .string(serverVersion)]
        if version.hasStructuredToolResults { info["title"] = "Hermes Appliance" }
        return [
            "protocolVersion": .string(version.rawValue),
            "capabilities": ["tools": ["listChanged": false], "logging": [:]],
            "serverInfo": .object(info),
            "instructions": .string(Self.instructions),
        ]
    }

    func listTools(_ params: JSONObject?, session: MCPSession) throws(MCPMethodError) -> JSONValue {
        let all = tools.tools(for: session.customer)
        var offset = 0
        if let cursor = params?["cursor"], !cursor.isNull {
            guard let text = cursor.stringValue, text.hasPrefix("o"), let start = Int(text.dropFirst()), (0...all.count).contains(start) else {
                throw .invalidParams("the cursor \(cursor) was not issued by this server; list again without a cursor")
            }
            offset = start
        }
        let end = min(all.count, offset + pageSize)
        let version = session.version
        var result: JSONObject = ["tools": .array(all[offset..<end].map { Self.describe($0, version: version) })]
        if end < all.count { result["nextCursor"] = .string("o\(end)") }
        return .object(result)
    }

    /// A tool as `tools/list` shows it to a client on `version` (fields newer than its revision left out).
    static func describe(_ tool: Tool, version: MCPProtocolVersion) -> JSONValue {
        var object: JSONObject = ["name": .string(tool.name)]
        if version.hasStructuredToolResults { object["title"] = .string(tool.title) }
        object["description"] = .string(tool.description)
        object["inputSchema"] = tool.inputSchema
        if version.hasStructuredToolResults, let output = tool.outputSchema { object["outputSchema"] = output }
        if version.hasToolAnnotations {
            var annotations = tool.annotations.json
            if case .object(var members) = annotations {
                members["title"] = .string(tool.title)
                annotations = .object(members)
            }
            object["annotations"] = annotations
        }
        return .object(object)
    }

    func setLevel(_ params: JSONObject?, session: MCPSession) throws(MCPMethodError) -> JSONValue {
        guard let name = params?["level"]?.stringValue, let level = MCPLogLevel(rawValue: name) else {
            throw .invalidParams("params.level must be one of \(MCPLogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        session.setLogLevel(level)
        return .object(JSONObject())
    }

    func callTool(id: JSONRPCID, _ params: JSONObject?, session: MCPSession, stream: Int, clientWaits: Bool) async throws(MCPMethodError) -> MCPReply? {
        let (name, context) = try startCall(id: id, params, session: session, stream: stream, clientWaits: clientWaits)
        let outcome: Result<ToolResult, ToolCallFailure>
        do throws(ToolCallFailure) {
            outcome = .success(try await tools.handleToolCall(name: name, arguments: params?["arguments"], customer: session.customer, context: context))
        } catch {
            outcome = .failure(error)
        }
        return try finishCall(id: id, outcome, session: session, clientWaited: clientWaits)
    }

    /// Registers the call with its session (so notifications/cancelled and the session's end can cancel
    /// it) and makes its context: the tool's name and where its progress and log messages go.
    @inline(never)
    private func startCall(id: JSONRPCID, _ params: JSONObject?, session: MCPSession, stream: Int, clientWaits: Bool) throws(MCPMethodError) -> (String, ToolCallContext) {
        guard let name = params?["name"]?.stringValue else {
            throw .invalidParams("tools/call needs params.name, the name of the tool to call (see tools/list)")
        }
        // The tool runs on this task (no extra task or executor hop per call); the session cancels it
        // through the handle registered here.
        let registered = withUnsafeCurrentTask { task in
            task.map { session.begin(id, canceller: RequestCanceller(task: $0), clientWaits: clientWaits) } ?? false
        }
        guard registered else {
            throw MCPMethodError(code: JSONRPCErrorCode.serverBusy, message: "too many requests are running in this session; wait for some to finish, then retry")
        }
        let token = params?["_meta"]?["progressToken"].flatMap(JSONRPCID.init)
        return (name, ToolCallContext(reporter: MCPToolCallReporter(session: session, stream: stream, progressToken: token)))
    }

    /// The call's response (nil when it was cancelled), once it has left its session's requests in flight.
    @inline(never)
    private func finishCall(id: JSONRPCID, _ outcome: Result<ToolResult, ToolCallFailure>, session: MCPSession, clientWaited: Bool) throws(MCPMethodError) -> MCPReply? {
        let version = session.finish(id, clientWaited: clientWaited)
        switch outcome {
        case .success(let result):
            return .response(JSONRPC.result(id, Self.encode(result, version: version)))
        case .failure(let failure):
            switch failure.kind {
            case .unknownTool: throw .invalidParams(failure.message)
            case .limited(let exceeded): return .limited(id, exceeded)
            case .cancelled: return nil
            }
        }
    }

    static func encode(_ result: ToolResult, version: MCPProtocolVersion) -> JSONValue {
        var object = JSONObject(capacity: 3)
        object.append("content", .array(result.content.map(\.json)))
        if version.hasStructuredToolResults, let structured = result.structuredContent { object.append("structuredContent", structured) }
        object.append("isError", .bool(result.isError))
        return .object(object)
    }
}

/// What answering one JSON-RPC request gave.
enum MCPReply: Sendable {
    /// The JSON-RPC response (a result or an error).
    case response(JSONValue)
    /// A `tools/call` the caller's limits refused: HTTP 429 where the status is still to be sent, otherwise
    /// a JSON-RPC error naming the limit.
    case limited(JSONRPCID, LimitExceeded)

    /// The reply as a JSON-RPC message, for answers whose HTTP status has gone out already.
    var message: JSONValue {
        switch self {
        case .response(let value): value
        case .limited(let id, let exceeded): JSONRPC.error(id, code: JSONRPCErrorCode.limitExceeded, message: exceeded.message)
        }
    }
}

/// Sends a tool call's progress and log messages to the client on one of its session's streams: progress
/// only when the request asked for it (`_meta.progressToken`), log messages at or above the session's level.
final class MCPToolCallReporter: ToolCallReporter {
    let session: MCPSession
    let stream: Int
    let progressToken: JSONRPCID?

    init(session: MCPSession, stream: Int, progressToken: JSONRPCID?) {
        self.session = session
        self.stream = stream
        self.progressToken = progressToken
    }

    func progress(_ progress: Double, total: Double?, message: String?) {
        guard let progressToken else { return }
        var params: JSONObject = ["progressToken": progressToken.json, "progress": .number(progress)]
        if let total { params["total"] = .number(total) }
        if let message, session.version >= .v2025_03_26 { params["message"] = .string(message) }
        session.publish(JSONRPC.notification("notifications/progress", params), on: stream)
    }

    func log(_ level: MCPLogLevel, _ data: JSONValue) {
        guard level >= session.logLevel else { return }
        session.publish(JSONRPC.notification("notifications/message", ["level": .string(level.rawValue), "logger": "hermes", "data": data]), on: stream)
    }
}
