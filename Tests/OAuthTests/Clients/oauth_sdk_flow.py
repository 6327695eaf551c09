"""The Python MCP SDK's OAuth client (mcp 2.3.0 `OAuthClientProvider`) against the OAuth server, with no
browser: 401 → discovery → registration → authorize (the consent form is submitted as a browser would,
with the customer's API key and the page's CSRF token) → token → authenticated request → refresh →
authenticated request. Prints one JSON line with what it saw (tokens only as prefixes).

With --mcp the authenticated requests are a real MCP session (the SDK's ClientSession over Streamable
HTTP): initialize, tools/call whoami, forced refresh, tools/call whoami."""

import argparse
import asyncio
import json
import re
import time
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull):
        self.client_info = client_info


def hidden(page, name):
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    if not match:
        raise RuntimeError(f"no hidden field {name} on the consent page: {page[:500]}")
    return match.group(1)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--auth-method", default="client_secret_post")
    parser.add_argument("--mcp", action="store_true", help="make the authenticated requests MCP tool calls")
    args = parser.parse_args()
    report = {"steps": []}
    result = {}

    async def redirect_handler(authorization_url):
        query = parse_qs(urlparse(authorization_url).query)
        report["authorize_params"] = sorted(query.keys())
        report["resource"] = query.get("resource", [None])[0]
        report["scope"] = query.get("scope", [None])[0]
        async with httpx2.AsyncClient(trust_env=False, follow_redirects=False, timeout=30) as browser:
            page = await browser.get(authorization_url)
            report["consent_status"] = page.status_code
            report["consent_shows_name"] = "Python SDK test client" in page.text
            form = {
                "request_id": hidden(page.text, "request_id"),
                "csrf": hidden(page.text, "csrf"),
                "api_key": args.api_key,
                "decision": "approve",
            }
            answer = await browser.post(authorization_url, data=form)
            report["consent_post_status"] = answer.status_code
            location = answer.headers.get("location", "")
            params = parse_qs(urlparse(location).query)
            result["code"] = params.get("code", [None])[0]
            result["state"] = params.get("state", [None])[0]
            result["iss"] = params.get("iss", [None])[0]

    async def callback_handler():
        return AuthorizationCodeResult(code=result["code"], state=result["state"], iss=result["iss"])

    storage = MemoryStorage()
    metadata = OAuthClientMetadata(
        client_name="Python SDK test client",
        redirect_uris=["http://localhost:33418/callback"],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=args.auth_method,
    )
    provider = OAuthClientProvider(
        server_url=args.url, client_metadata=metadata, storage=storage,
        redirect_handler=redirect_handler, callback_handler=callback_handler,
    )
    if args.mcp:
        async with httpx2.AsyncClient(auth=provider, trust_env=False, timeout=httpx2.Timeout(30, read=60)) as http:
            async with streamable_http_client(args.url, http_client=http) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    first = await session.call_tool("whoami", {})
                    first_tokens = storage.tokens
                    report["steps"].append({"status": 200, "body": first.structured_content, "is_error": first.is_error})
                    provider.context.token_expiry_time = time.time() - 1
                    second = await session.call_tool("whoami", {})
                    second_tokens = storage.tokens
                    report["steps"].append({"status": 200, "body": second.structured_content, "is_error": second.is_error})
        report["registered_method"] = storage.client_info.token_endpoint_auth_method if storage.client_info else None
        report["access_prefix"] = first_tokens.access_token[:4] if first_tokens else None
        report["refresh_prefix"] = (first_tokens.refresh_token or "")[:4] if first_tokens else None
        report["refreshed_access_differs"] = bool(first_tokens and second_tokens and first_tokens.access_token != second_tokens.access_token)
        report["refreshed_refresh_differs"] = bool(first_tokens and second_tokens and first_tokens.refresh_token != second_tokens.refresh_token)
        print(json.dumps(report))
        return
    async with httpx2.AsyncClient(auth=provider, trust_env=False, timeout=30) as http:
        first = await http.post(args.url, json={})
        first_tokens = storage.tokens
        report["steps"].append({"status": first.status_code, "body": first.json() if first.status_code == 200 else first.text})
        report["registered_method"] = storage.client_info.token_endpoint_auth_method if storage.client_info else None
        report["client_id_prefix"] = storage.client_info.client_id[:3] if storage.client_info else None
        # Make the access token look expired so the provider refreshes before the next request.
        provider.context.token_expiry_time = time.time() - 1
        second = await http.post(args.url, json={})
        second_tokens = storage.tokens
        report["steps"].append({"status": second.status_code, "body": second.json() if second.status_code == 200 else second.text})
    report["access_prefix"] = first_tokens.access_token[:4] if first_tokens else None
    report["refresh_prefix"] = (first_tokens.refresh_token or "")[:4] if first_tokens else None
    report["refreshed_access_differs"] = bool(first_tokens and second_tokens and first_tokens.access_token != second_tokens.access_token)
    report["refreshed_refresh_differs"] = bool(first_tokens and second_tokens and first_tokens.refresh_token != second_tokens.refresh_token)
    print(json.dumps(report))


asyncio.run(main())
