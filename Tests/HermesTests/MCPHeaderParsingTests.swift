import Foundation
import HTTP2
@testable import Hermes
@testable import MCP
@testable import ToolRuntime
import Tenancy
import Testing

/// The header values every MCP request carries, read without the HTTP server in between (HTTP/2 and the
/// HTTP/1 parser would drop the surrounding whitespace these tests need).
@Suite("MCP header parsing")
struct MCPHeaderParsingTests {
    static func request(_ headers: HTTPHeaders) -> HTTPRequest {
        HTTPRequest(method: .post, path: "/mcp", headers: headers)
    }

    static func versionProblem(_ value: String?) -> HTTPResponse? {
        var headers = HTTPHeaders()
        if let value { headers.add("MCP-Protocol-Version", value) }
        return StreamableHTTPTransport.versionProblem(request(headers))
    }

    @Test func protocolVersionMayBeSurroundedBySpacesAndTabs() {
        #expect(Self.versionProblem(nil) == nil)
        for version in MCPProtocolVersion.allCases.map(\.rawValue) {
            #expect(Self.versionProblem(version) == nil, "\(version)")
            #expect(Self.versionProblem(" \(version)") == nil, "\(version)")
            #expect(Self.versionProblem("\t\(version) \t") == nil, "\(version)")
        }
    }

    @Test func unsupportedProtocolVersionsAre400NamingTheValueAndTheSupportedOnes() throws {
        for value in ["2099-01-01", " 2099-01-01\t", "", "  ", "2025-06-18x", "2025-06-1", "2025-06-18,2025-03-26", "2025 -06-18"] {
            let problem = try #require(Self.versionProblem(value), "\(value.debugDescription)")
            #expect(problem.status == 400)
            let body = problem.bodyText
            #expect(body.contains("unsupported MCP-Protocol-Version '\(value.trimmingCharacters(in: CharacterSet(charactersIn: " \t")))'"), "\(body)")
            #expect(body.contains(MCPProtocolVersion.supportedList), "\(body)")
        }
    }

    @Test func bearerCredentialFollowsTheSchemeWhateverItsCase() {
        let cases: [(String, String?)] = [
            ("Bearer key", "key"), ("bearer key", "key"), ("BEARER key", "key"), ("  Bearer   key \t", "key"),
            ("Bearer a b", "a b"), ("Bearer  ", ""), ("Bearer ", nil), ("Bearer", nil), ("Bearer\tkey", nil),
            ("Basic a2V5", nil), ("Bearerkey", nil), ("", nil), ("Bearér key", nil),
        ]
        for (header, expected) in cases {
            #expect(StaticAPIKeyAuthenticator.bearerCredential(header).map(String.init) == expected, "\(header.debugDescription)")
        }
    }

    @Test func acceptIsReadAsMediaRanges() {
        let cases: [(String?, json: Bool, eventStream: Bool)] = [
            (nil, true, true), ("", true, true), ("*/*", true, true), ("application/json, text/event-stream", true, true),
            ("Application/JSON;q=0.9 , TEXT/EVENT-STREAM", true, true), ("application/json", true, false), ("text/event-stream", false, true),
            ("application/*", true, false), ("text/*;q=0.1", false, true), ("text/html, */*; q=0.8", true, true),
            // Whole media ranges only: a longer type that merely starts the same way is not JSON.
            ("application/json-seq", false, false), ("text/plain", false, false), (" , ,application/json,", true, false),
        ]
        for (header, json, eventStream) in cases {
            let accepts = MCPHTTP.Accepts(header)
            #expect(accepts.json == json && accepts.eventStream == eventStream, "\(header.debugDescription)")
        }
    }

    @Test func presentedKeyPrefersAuthorizationThenXAPIKey() {
        #expect(StaticAPIKeyAuthenticator.presentedKey(Self.request(["authorization": "Bearer one", "x-api-key": "two"])) == "one")
        #expect(StaticAPIKeyAuthenticator.presentedKey(Self.request(["authorization": "Basic one", "x-api-key": " two\t"])) == "two")
        #expect(StaticAPIKeyAuthenticator.presentedKey(Self.request(["x-api-key": ""])) == nil)
        #expect(StaticAPIKeyAuthenticator.presentedKey(Self.request(["x-api-key": "  "])) == "")
        #expect(StaticAPIKeyAuthenticator.presentedKey(Self.request([:])) == nil)
    }

    @Test func singleUserKeyIsComparedAfterTrimming() async {
        let authenticator = StaticAPIKeyAuthenticator(apiKey: "secret-key")
        for headers: HTTPHeaders in [["authorization": "Bearer secret-key"], ["authorization": "bearer \tsecret-key "], ["x-api-key": " secret-key"]] {
            guard case .authenticated = await authenticator.authenticate(Self.request(headers)) else {
                Issue.record("\(headers) was not accepted")
                continue
            }
        }
        guard case .refused(let challenge, _) = await authenticator.authenticate(Self.request(["authorization": "Bearer secret-keyx"])) else {
            Issue.record("a wrong key was accepted")
            return
        }
        #expect(challenge.contains("invalid_token"))
    }
}

extension HTTPResponse {
    var bodyText: String {
        if case .bytes(let bytes) = body { return String(decoding: bytes, as: UTF8.self) }
        return ""
    }
}
