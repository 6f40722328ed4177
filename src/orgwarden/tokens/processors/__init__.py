"""Wire formats of the tokens domain, as pure code without Django."""
