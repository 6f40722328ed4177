"""orgwarden: one place where a company manages its people's accounts and enforces its policies."""

__version__ = "0.1.0"
