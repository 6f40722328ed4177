"""OIDC glue around django-oauth-toolkit: the claims we issue and the checks a refresh must pass."""
