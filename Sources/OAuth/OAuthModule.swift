// The OAuth 2.1 authorization server; its sources arrive with the OAuth work.
