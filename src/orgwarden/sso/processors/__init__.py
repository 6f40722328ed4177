"""SAML wire protocol, as plain classes without Django: responses, AuthnRequests, metadata.

``response.ResponseProcessor`` is the security core (its docstring lists the ordered checks and
why signxml was chosen); ``xml`` is the hardened parser every inbound document goes through.
"""
