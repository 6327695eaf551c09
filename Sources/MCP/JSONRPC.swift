import JSON
/// A JSON-RPC request id: a string or an integer (MCP forbids null).
package enum JSONRPCID: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case integer(Int64)

    init?(_ value: JSONValue) {
        switch value {
        case .string(let text): self = .string(text)
        case .integer(let number): self = .integer(number)
        case .number(let number) where number.rounded() == number && abs(number) < 9.0e15: self = .integer(Int64(number))
        default: return nil
        }
    }

    var json: JSONValue {
        switch self {
        case .string(let text): .string(text)
        case .integer(let number): .integer(number)
        }
    }

    package var description: String {
        switch self {
        case .string(let text): "\"\(text)\""
        case .integer(let number): "\(number)"
        }
    }
}

/// A JSON-RPC request: a method call the server answers.
struct JSONRPCRequest: Sendable {
    var id: JSONRPCID
    var method: String
    var params: JSONObject?

    /// Whether the caller asked for progress notifications (`_meta.progressToken`).
    var wantsProgress: Bool { params?["_meta"]?["progressToken"] != nil }
}

/// One JSON-RPC 2.0 message as the server sees it.
enum JSONRPCMessage: Sendable {
    case request(JSONRPCRequest)
    case notification(method: String, params: JSONObject?)
    /// A response or error from the client to a request of ours; the server sends none, so they are accepted and dropped.
    case response(id: JSONRPCID?)

    var isRequest: Bool {
        if case .request = self { true } else { false }
    }
}

/// A message that is JSON but not a valid JSON-RPC 2.0 message; `id` is the request's id when it could be read.
struct InvalidJSONRPCMessage: Error, Sendable {
    var id: JSONRPCID?
    var reason: String
}

/// Standard JSON-RPC error codes, and the ones MCP adds.
package enum JSONRPCErrorCode {
    package static let parseError: Int64 = -32700
    package static let invalidRequest: Int64 = -32600
    package static let methodNotFound: Int64 = -32601
    package static let invalidParams: Int64 = -32602
    package static let internalError: Int64 = -32603
    /// The request was cancelled by the client before it finished (answered only where HTTP needs a body).
    package static let requestCancelled: Int64 = -32800
    /// A server-side limit was reached (too many requests in flight in one session).
    package static let serverBusy: Int64 = -32000
    /// A plan limit was reached (requests per minute, monthly tool calls); the HTTP status is 429.
    package static let limitExceeded: Int64 = -32029
}

/// Reading and writing JSON-RPC 2.0 envelopes.
enum JSONRPC {
    /// Classifies one decoded JSON value as a request, notification or response, or says why it is none.
    static func message(_ value: JSONValue) -> Result<JSONRPCMessage, InvalidJSONRPCMessage> {
        guard case .object(let object) = value else {
            return .failure(.init(id: nil, reason: "a JSON-RPC message must be an object, not \(value.typeName == "array" ? "an array" : "a \(value.typeName)")"))
        }
        let idValue = object["id"]
        let id = idValue.flatMap(JSONRPCID.init)
        guard object["jsonrpc"] == .string("2.0") else {
            return .failure(.init(id: id, reason: "the message must have \"jsonrpc\": \"2.0\""))
        }
        if let idValue, id == nil {
            return .failure(.init(id: nil, reason: "the id must be a string or an integer, not \(idValue.typeName)"))
        }
        var params: JSONObject? = nil
        if let raw = object["params"] {
            guard case .object(let parameters) = raw else {
                return .failure(.init(id: id, reason: "params must be an object, not \(raw.typeName)"))
            }
            params = parameters
        }
        if let method = object["method"] {
            guard case .string(let name) = method, !name.isEmpty else {
                return .failure(.init(id: id, reason: "method must be a non-empty string"))
            }
            if let id { return .success(.request(JSONRPCRequest(id: id, method: name, params: params))) }
            return .success(.notification(method: name, params: params))
        }
        if object["result"] != nil || object["error"] != nil {
            return .success(.response(id: id))
        }
        return .failure(.init(id: id, reason: "the message has neither a method nor a result or error"))
    }

    static func result(_ id: JSONRPCID, _ result: JSONValue) -> JSONValue {
        var envelope = JSONObject(capacity: 3)
        envelope.append("jsonrpc", "2.0")
        envelope.append("id", id.json)
        envelope.append("result", result)
        return .object(envelope)
    }

    static func error(_ id: JSONRPCID?, code: Int64, message: String, data: JSONValue? = nil) -> JSONValue {
        var error = JSONObject([("code", .integer(code)), ("message", .string(message))])
        if let data { error.append("data", data) }
        return .object(JSONObject([("jsonrpc", "2.0"), ("id", id?.json ?? .null), ("error", .object(error))]))
    }

    static func notification(_ method: String, _ params: JSONObject) -> JSONValue {
        .object(JSONObject([("jsonrpc", "2.0"), ("method", .string(method)), ("params", .object(params))]))
    }
}

/// A protocol error while handling a request: becomes a JSON-RPC error response.
struct MCPMethodError: Error, Sendable {
    var code: Int64
    var message: String

    static func invalidParams(_ message: String) -> MCPMethodError { .init(code: JSONRPCErrorCode.invalidParams, message: message) }
}
