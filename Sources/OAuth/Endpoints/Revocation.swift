import HTTP2
import Logging
import Store

extension OAuthServer {
    /// POST `/oauth/revoke` (RFC 7009). A refresh token revokes its whole grant (every access and refresh
    /// token of the family); an access token revokes itself. Unknown tokens, and tokens of other clients,
    /// get 200 as well and nothing changes (the answer reveals nothing about them).
    func handleRevocation(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            let fields = try Self.formBody(request)
            let client = try await authenticateClient(request, fields)
            guard let token = fields["token"] else { throw ProtocolError.invalidRequest("token is required") }
            let hash = Self.tokenHash.hexDigest(of: token)
            let clientID = client.id
            let isRefresh = token.hasPrefix(Self.refreshTokenPrefix)
            let isAccess = token.hasPrefix(Self.accessTokenPrefix)
            let revoked: TokenRecord? = try await store.write { transaction -> TokenRecord? in
                if isRefresh {
                    let key = OAuthKeys.refresh(hash)
                    guard let bytes = try transaction.get(OAuthKeys.tokens, key) else { return nil }
                    let record = try TokenRecord(json: bytes)
                    guard record.clientID == clientID else { return nil }
                    try Self.revokeFamily(record.familyID, in: transaction)
                    try transaction.delete(OAuthKeys.tokens, key)
                    return record
                } else if isAccess {
                    let key = OAuthKeys.access(hash)
                    guard let bytes = try transaction.get(OAuthKeys.tokens, key) else { return nil }
                    let record = try TokenRecord(json: bytes)
                    guard record.clientID == clientID else { return nil }
                    try transaction.delete(OAuthKeys.tokens, key)
                    return record
                }
                return nil
            }
            if let revoked {
                await audit.record("oauth.token_revoked", customerID: revoked.customerID, detail: [
                    "client_id": clientID, "token_type": isRefresh ? "refresh_token (whole grant)" : "access_token", "reason": "revoked by the client",
                ])
                logger.info("token revoked", metadata: ["oauth.client_id": "\(clientID)", "customer.id": "\(revoked.customerID)"])
            }
            return Self.noStoreJSON([:])
        } catch let error as ProtocolError {
            return Self.errorResponse(error)
        } catch {
            logger.error("revocation failed", metadata: ["error": "\(error)"])
            return Self.noStoreJSON(["error": "server_error", "error_description": "the token could not be revoked; try again"], status: 500)
        }
    }
}
