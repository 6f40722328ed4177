"""The Organizations REST API (``/api/admin/v1/orgs/…`` and ``/api/users/{accountId}/manage/…``).

Routers only: each endpoint parses its input, calls a selector (``queries``, ``audit.selectors``,
``orgs.selectors``) or a service (``orgs.services.users``), and returns a schema. Every query is
scoped to ``request.org``, the org of the API key that authenticated the call; a path id of
another org is a 404. ``api.api`` mounts the routers and maps named errors to JSON in one place.

- ``orgs``: the key's org, its users, domains and groups;
- ``events``: the audit log (paged search, one event, the catalogue, and the polling stream);
- ``users``: user management of the org's (managed) accounts;
- ``schemas``: every input and output shape; ``pagination``: opaque keyset cursors and pages;
- ``queries``: the org-scoped reads the routers need that no other selector module provides.
"""
