import Crypto
import HTTP2
import Logging
import Store
import Tenancy

extension OAuthServer {
    /// GET `/oauth/authorize`: checks the request and shows the consent page.
    ///
    /// Until the client and redirect URI are known to be good, problems are shown as an error page and never
    /// redirected; after that they go back to the client as `error=…` (RFC 6749 section 4.1.2.1).
    func handleAuthorizationRequest(_ request: HTTPRequest) async -> HTTPResponse {
        let fields = FormFields(request.query ?? "")
        guard let clientID = fields["client_id"] else {
            return ConsentPage.error(status: 400, "The sign-in link is missing its client_id. Start again from the application you are connecting.")
        }
        let client: ClientRecord
        do {
            guard let found = try await resolveClient(clientID, for: request.remoteHost ?? "unknown") else {
                return ConsentPage.error(status: 400, "The application is not registered here (unknown client_id). Remove the connector and add it again so it registers anew.")
            }
            client = found
        } catch {
            if let busy = error.busy {
                var response = ConsentPage.error(status: busy.status, "The application cannot be verified right now: \(error.description).")
                response.headers.set("retry-after", "\(busy.retryAfterSeconds)")
                return response
            }
            return ConsentPage.error(status: 400, "The application could not be verified: \(error.description)")
        }
        let redirectURI: String
        if let given = fields["redirect_uri"] {
            guard Self.redirectURI(given, isRegisteredIn: client.redirectURIs) else {
                logger.notice("authorization refused: unregistered redirect URI", metadata: ["oauth.client_id": "\(client.id)"])
                return ConsentPage.error(status: 400, "The redirect address in this request is not one the application registered, so you are not being sent there. Start again from the application.")
            }
            redirectURI = given
        } else if client.redirectURIs.count == 1 {
            redirectURI = client.redirectURIs[0]
        } else {
            return ConsentPage.error(status: 400, "The request names no redirect_uri and the application registered several. Start again from the application.")
        }
        let state = fields["state"]
        func refuse(_ code: String, _ text: String) -> HTTPResponse {
            redirect(to: redirectURI, ["error": code, "error_description": text], state: state)
        }
        if !fields.repeated.isEmpty {
            return refuse("invalid_request", "parameter \(fields.repeated[0]) appears more than once")
        }
        guard fields["response_type"] == "code" else {
            return refuse("unsupported_response_type", "only response_type=code is supported")
        }
        guard let challenge = fields["code_challenge"] else {
            return refuse("invalid_request", "PKCE is required: send code_challenge with code_challenge_method=S256")
        }
        guard fields["code_challenge_method"] == "S256" else {
            return refuse("invalid_request", "only code_challenge_method=S256 is supported (plain is refused)")
        }
        guard challenge.utf8.count == 43, challenge.utf8.allSatisfy(Self.isBase64URLByte) else {
            return refuse("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the verifier")
        }
        let resource: String
        if let given = fields["resource"] {
            guard let canonical = canonicalResource(given) else {
                return refuse("invalid_target", "resource must be \(mcpResource) (or \(issuer)); tokens are only issued for this server")
            }
            resource = canonical
        } else {
            resource = mcpResource
        }
        let scope: [String]
        if let given = fields["scope"] {
            let requested = given.split(separator: " ").map(String.init)
            if let unknown = requested.first(where: { !configuration.scopes.contains($0) }) {
                return refuse("invalid_scope", "scope \(unknown) is not supported; supported: \(configuration.scopes.joined(separator: " "))")
            }
            scope = requested.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
        } else {
            scope = configuration.defaultScopes
        }
        let consent = PendingConsent(
            client: client, redirectURI: redirectURI, state: state, challenge: challenge, resource: resource, scope: scope,
            failedAttempts: 0, expiresAt: now.adding(milliseconds: configuration.consentLifetime.milliseconds)
        )
        return showConsent(consent, for: request, problem: nil)
    }

    /// POST `/oauth/authorize`: the consent form. Approve needs the customer's API key; deny does not.
    func handleConsent(_ request: HTTPRequest) async -> HTTPResponse {
        let fields = FormFields(request.bodyText)
        guard let id = fields["request_id"] else {
            return ConsentPage.error(status: 400, "The form is incomplete. Start again from the application you are connecting.")
        }
        let consent: PendingConsent
        switch consents.take(id: id, csrf: fields["csrf"], now: now) {
        case .unknown:
            return ConsentPage.error(status: 400, "This sign-in page has expired or was already used. Start again from the application you are connecting.")
        case .forged:
            logger.warning("consent form refused: missing or wrong CSRF token", metadata: ["oauth.remote": "\(request.remoteAddress ?? "?")"])
            return ConsentPage.error(status: 403, "The form could not be verified (its security token is missing or wrong), so nothing was approved. Start again from the application.")
        case .valid(let found):
            consent = found
        }
        guard fields["decision"] == "approve" else {
            logger.info("authorization denied by the user", metadata: ["oauth.client_id": "\(consent.client.id)"])
            return redirect(to: consent.redirectURI, ["error": "access_denied", "error_description": "the user denied access"], state: consent.state)
        }
        let check: APIKeyCheck
        do {
            check = try directory.authenticate(apiKey: fields["api_key"]?.trimmingSpaces ?? "")
        } catch {
            logger.error("checking an API key on the consent page failed", metadata: ["error": "\(error)"])
            return ConsentPage.error(status: 500, "Your key could not be checked because of a server problem. Try again in a moment.")
        }
        switch check {
        case .valid(let customer):
            return await issueCode(consent, customer: customer)
        case .disabled(let customer):
            await audit.record("auth.sign_in_failed", customerID: customer.id, detail: ["reason": "account disabled", "via": "oauth consent", "client_id": consent.client.id])
            return await signInFailed(consent, for: request, problem: "This account is disabled. Contact your administrator.")
        case .unknown:
            logger.notice("consent sign-in failed: unknown API key", metadata: ["oauth.client_id": "\(consent.client.id)", "oauth.remote": "\(request.remoteAddress ?? "?")"])
            return await signInFailed(consent, for: request, problem: "That API key is not valid. Check it and try again.")
        }
    }

    private func signInFailed(_ consent: PendingConsent, for request: HTTPRequest, problem: String) async -> HTTPResponse {
        var consent = consent
        consent.failedAttempts += 1
        guard consent.failedAttempts < configuration.maximumSignInAttempts else {
            return ConsentPage.error(status: 403, "Too many failed sign-in attempts. Start again from the application you are connecting.")
        }
        return showConsent(consent, for: request, problem: problem, status: 401)
    }

    /// Opens a consent page for the client that sent `request`, within the per-address and total bounds.
    private func showConsent(_ consent: PendingConsent, for request: HTTPRequest, problem: String?, status: Int = 200) -> HTTPResponse {
        let address = request.remoteHost ?? "unknown"
        let id: String
        let csrf: String
        switch consents.open(consent, address: address, now: now) {
        case .opened(let opened, let token):
            id = opened
            csrf = token
        case .addressBusy(let limit, let wait):
            logger.notice("consent page refused: too many sign-ins in progress from one address", metadata: [
                "oauth.remote": "\(address)", "oauth.pending_per_address": "\(limit)",
            ])
            var response = ConsentPage.error(status: 429, "Too many sign-ins are in progress from your address (at most \(limit) at once). Finish or close the sign-in pages you have open, or try again in \(Self.minutesText(wait)).")
            response.headers.set("retry-after", "\(wait)")
            return response
        case .full:
            logger.warning("consent page refused: every pending sign-in place is taken", metadata: ["oauth.pending_limit": "\(configuration.maximumPendingConsents)"])
            var response = ConsentPage.error(status: 503, "Too many sign-ins are in progress right now. Try again in a few minutes.")
            response.headers.set("retry-after", "60")
            return response
        }
        let host = URLParts(consent.redirectURI)?.displayHost ?? consent.redirectURI
        return ConsentPage.consent(
            clientName: consent.client.name ?? "An unnamed application", clientID: consent.client.id, redirectHost: host,
            scope: consent.scope, requestID: id, csrf: csrf, problem: problem, status: status
        )
    }

    private func issueCode(_ consent: PendingConsent, customer: CustomerRecord) async -> HTTPResponse {
        let code = Self.codePrefix + RandomToken.urlSafe()
        let record = CodeRecord(
            clientID: consent.client.id, redirectURI: consent.redirectURI, challenge: consent.challenge, resource: consent.resource,
            scope: consent.scope, customerID: customer.id, familyID: RandomToken.urlSafe(byteCount: 18), grantEpoch: customer.grantEpoch, used: false
        )
        do {
            try await store.put(OAuthKeys.codes, Self.codeHash.hexDigest(of: code), record.json,
                                expiresAt: now.adding(milliseconds: configuration.codeLifetime.milliseconds))
        } catch {
            logger.error("storing an authorization code failed", metadata: ["error": "\(error)"])
            return redirect(to: consent.redirectURI, ["error": "server_error", "error_description": "the authorization could not be stored"], state: consent.state)
        }
        let host = URLParts(consent.redirectURI)?.displayHost ?? ""
        await audit.record("oauth.code_issued", customerID: customer.id, detail: [
            "client_id": consent.client.id, "redirect_host": host, "scope": consent.scope.joined(separator: " "),
        ])
        logger.info("authorization code issued", metadata: ["oauth.client_id": "\(consent.client.id)", "customer.id": "\(customer.id)"])
        return redirect(to: consent.redirectURI, ["code": code], state: consent.state)
    }

    /// 302 to a registered redirect URI with `parameters`, `state` and `iss` (RFC 9207) added to its query.
    func redirect(to uri: String, _ parameters: [String: String], state: String?) -> HTTPResponse {
        var pairs = parameters.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if let state { pairs.append(("state", state)) }
        pairs.append(("iss", issuer))
        let separator = uri.contains("?") ? "&" : "?"
        return HTTPResponse(status: 302, headers: [
            "location": uri + separator + FormEncoding.encode(pairs), "cache-control": "no-store", "referrer-policy": "no-referrer",
        ])
    }

    /// Whether `given` is a registered redirect URI: the same string, or, for http on a loopback host, the
    /// same URI on another port (RFC 8252 section 7.3: native apps listen on whatever port is free).
    static func redirectURI(_ given: String, isRegisteredIn registered: [String]) -> Bool {
        if registered.contains(given) { return true }
        guard let parts = URLParts(given), parts.scheme == "http", parts.isLoopback, !parts.hasFragment, !parts.hasUserInfo else { return false }
        return registered.contains { candidate in
            guard let other = URLParts(candidate), other.scheme == "http", other.isLoopback else { return false }
            return other.host == parts.host && other.path == parts.path
        }
    }

    /// "1 minute", "9 minutes": how long a person is asked to wait.
    static func minutesText(_ seconds: Int64) -> String {
        let minutes = max(1, (seconds + 59) / 60)
        return minutes == 1 ? "1 minute" : "\(minutes) minutes"
    }

    static func isBase64URLByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }
}

extension String {
    var trimmingSpaces: String {
        var view = Substring(self)
        while let first = view.first, first.isWhitespace { view.removeFirst() }
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}
