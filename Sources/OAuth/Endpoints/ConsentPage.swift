import HTTP2

/// The HTML of the consent and error pages. Every interpolated value is escaped.
enum ConsentPage {
    static func consent(clientName: String, clientID: String, redirectHost: String, scope: [String], requestID: String, csrf: String, problem: String?, status: Int) -> HTTPResponse {
        let problemHTML = problem.map { "<p class=\"problem\" role=\"alert\">\(HTML.escape($0))</p>" } ?? ""
        let body = """
        <h1>Connect \(HTML.escape(clientName)) to Hermes</h1>
        <p><strong>\(HTML.escape(clientName))</strong> wants to use your Hermes account.
        After you approve, you will be sent back to <strong>\(HTML.escape(redirectHost))</strong>.</p>
        <p class="small">Client id: <code>\(HTML.escape(clientID))</code><br>Access requested: \(HTML.escape(scope.joined(separator: ", ")))</p>
        \(problemHTML)
        <form method="post" autocomplete="off">
        <input type="hidden" name="request_id" value="\(HTML.escape(requestID))">
        <input type="hidden" name="csrf" value="\(HTML.escape(csrf))">
        <label for="api_key">Your Hermes API key</label>
        <input id="api_key" name="api_key" type="password" placeholder="hk_…" required autofocus>
        <div class="buttons">
        <button type="submit" name="decision" value="approve">Approve</button>
        <button type="submit" name="decision" value="deny" formnovalidate class="secondary">Deny</button>
        </div>
        </form>
        """
        return page(title: "Connect \(clientName)", body: body, status: status)
    }

    static func error(status: Int, _ message: String) -> HTTPResponse {
        page(title: "Cannot continue", body: "<h1>Cannot continue</h1><p>\(HTML.escape(message))</p>", status: status)
    }

    private static func page(title: String, body: String, status: Int) -> HTTPResponse {
        let html = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTML.escape(title))</title>
        <style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;color:#222}
        input[type=password]{width:100%;padding:.5rem;margin:.5rem 0 1rem;box-sizing:border-box}
        button{padding:.5rem 1.2rem;margin-right:.5rem}.secondary{background:#eee}.problem{color:#b00020}.small{font-size:.85rem;color:#555}</style>
        </head><body>
        \(body)
        </body></html>
        """
        var response = HTTPResponse.text(html, status: status, contentType: "text/html; charset=utf-8")
        response.headers.set("cache-control", "no-store")
        response.headers.set("x-frame-options", "DENY")
        response.headers.set("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
        response.headers.set("referrer-policy", "no-referrer")
        response.headers.set("x-content-type-options", "nosniff")
        return response
    }
}
