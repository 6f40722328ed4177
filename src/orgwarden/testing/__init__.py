"""Real peers for the tests: a DNS server and an HTTPS server on loopback (no mocks of our code)."""
