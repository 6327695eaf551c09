import Crypto
import JSON
import Logging
import HTTPClient
import Store

/// Why a client could not be resolved; the message is safe to show (no secrets, no document content).
struct ClientResolutionError: Error, CustomStringConvertible {
    var description: String
    /// Set when the refusal passes: too many fetches right now (`status` 429 or 503).
    var busy: (status: Int, retryAfterSeconds: Int64)? = nil
}

extension OAuthServer {
    /// The client `id`: a registered client, or (for an https URL) its Client ID Metadata Document, fetched
    /// and cached. nil when no such registered client exists. `address` is the remote address of the
    /// request that names the client; fetches are bounded per address.
    func resolveClient(_ id: String, for address: String) async throws(ClientResolutionError) -> ClientRecord? {
        if id.hasPrefix("https://") {
            guard configuration.clientMetadataDocuments.enabled else {
                throw ClientResolutionError(description: "this server does not accept URL client ids (Client ID Metadata Documents are disabled); register the client instead")
            }
            return try await metadataDocumentClient(id, for: address)
        }
        guard id.utf8.count <= 200 else { return nil }
        do {
            return try store.get(OAuthKeys.clients, OAuthKeys.client(id)).map { try ClientRecord(json: $0) }
        } catch {
            logger.error("reading an OAuth client failed", metadata: ["oauth.client_id": "\(id)", "error": "\(error)"])
            throw ClientResolutionError(description: "the client could not be read from the store; try again")
        }
    }

    private func metadataDocumentClient(_ url: String, for address: String) async throws(ClientResolutionError) -> ClientRecord {
        guard url.utf8.count <= 2000, let parts = URLParts(url), parts.scheme == "https", !parts.hasFragment, !parts.hasUserInfo,
              parts.path.count > 1, !parts.path.contains("?"), !parts.path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
        else {
            throw ClientResolutionError(description: "the client id is not a valid Client ID Metadata Document URL (https, with a path, no query, fragment or dot segments)")
        }
        let key = OAuthKeys.metadataDocument(urlDigest: Self.hex(SHA256.digest(of: url)))
        if let cached = try? store.get(OAuthKeys.clients, key), let record = try? ClientRecord(json: cached), record.id == url {
            return record
        }
        let documents = configuration.clientMetadataDocuments
        let wait = max(1, documents.timeout.wholeSeconds)
        switch metadataFetches.acquire(address) {
        case .acquired: break
        case .addressBusy:
            logger.notice("client metadata document fetch refused: too many at once from one address", metadata: ["oauth.remote": "\(address)"])
            throw ClientResolutionError(
                description: "too many client metadata documents are being fetched for requests from your address (at most \(documents.maximumFetchesPerAddress) at once); try again in \(wait) seconds",
                busy: (429, wait)
            )
        case .full:
            logger.warning("client metadata document fetch refused: too many at once", metadata: ["oauth.pending_fetches": "\(documents.maximumPendingFetches)"])
            throw ClientResolutionError(description: "too many client metadata documents are being fetched right now; try again in \(wait) seconds", busy: (503, wait))
        }
        defer { metadataFetches.release(address) }
        let response: HTTPClient.Response
        do {
            response = try await fetcher.get(url, headers: [("Accept", "application/json")])
        } catch {
            logger.notice("fetching a client metadata document failed", metadata: ["oauth.client_id": "\(url)", "error": "\(error)"])
            throw ClientResolutionError(description: "the client's metadata document could not be fetched: \(error)")
        }
        guard response.status == 200 else {
            throw ClientResolutionError(description: "the client's metadata document answered HTTP \(response.status), not 200")
        }
        let record = try parseMetadataDocument(response.body, url: url)
        let deadline = now.adding(milliseconds: configuration.clientMetadataDocuments.cacheLifetime.milliseconds)
        do {
            try await store.put(OAuthKeys.clients, key, record.json, expiresAt: deadline)
        } catch {
            logger.warning("caching a client metadata document failed", metadata: ["oauth.client_id": "\(url)", "error": "\(error)"])
        }
        logger.info("client metadata document fetched", metadata: ["oauth.client_id": "\(url)"])
        return record
    }

    /// Checks a document: a JSON object whose `client_id` is exactly its URL, with valid `redirect_uris`,
    /// and a public client (`none`; a document cannot carry a shared secret).
    private func parseMetadataDocument(_ body: [UInt8], url: String) throws(ClientResolutionError) -> ClientRecord {
        guard let object = (try? JSONParser.parse(body))?.objectValue else {
            throw ClientResolutionError(description: "the client's metadata document is not a JSON object")
        }
        guard object["client_id"]?.stringValue == url else {
            throw ClientResolutionError(description: "the client's metadata document names a different client_id than the URL it was fetched from")
        }
        if object["client_secret"] != nil || object["client_secret_expires_at"] != nil {
            throw ClientResolutionError(description: "the client's metadata document carries a client secret, which a public document must not")
        }
        if let method = object["token_endpoint_auth_method"]?.stringValue, method != "none" {
            throw ClientResolutionError(description: "the client's metadata document asks for token_endpoint_auth_method \(method); only none is supported for metadata-document clients")
        }
        let redirectURIs: [String]
        do {
            redirectURIs = try Self.validRedirectURIs(object["redirect_uris"])
        } catch {
            throw ClientResolutionError(description: "the client's metadata document has unusable redirect_uris: \(error.description)")
        }
        var grants = ["authorization_code", "refresh_token"]
        if let list = object["grant_types"]?.arrayValue?.compactMap(\.stringValue), !list.contains("refresh_token") { grants = ["authorization_code"] }
        let name = object["client_name"]?.stringValue.map { String($0.prefix(100)) }
        return ClientRecord(id: url, name: name, redirectURIs: redirectURIs, authMethod: .none, secretHash: nil, grantTypes: grants, source: .metadataDocument, used: true, created: now)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes { out += [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]] }
        return String(decoding: out, as: UTF8.self)
    }
}
