"""Product sign-in: every product site is an OpenID Connect client of orgwarden (django-oauth-toolkit)."""
