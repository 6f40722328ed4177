"""Console pages, one module per area (home, admins, audit …). Views are thin: parse, call, render."""
