// Tests of the OAuth 2.1 authorization server arrive with it.
