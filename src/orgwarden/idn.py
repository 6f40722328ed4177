"""Internationalized domain names: the ASCII form they are stored in, the Unicode form people read.

Addresses and domains are stored in their ASCII form (IDNA A-labels: ``anna@xn--mller-kva.de``),
the form DNS, SCIM, the APIs and the CSV exports use: ``idn_ascii`` makes it (``accounts.models.
normalize_email`` stores addresses with it, the audit log's search matches what people type with
it). People read ``anna@müller.de``: ``idn_unicode`` turns the one into the other for display (the
``idn_unicode`` filter of the ``console`` template library, and the flash messages of the console
and the account pages). Pure, no Django, and in no app: every app may use it, ``accounts`` and
``audit`` (which import no app above them) included.

A label that could pass for another name is shown in its ASCII form, as browsers do (Chromium's
and Firefox's IDN display policies, after Unicode TS #39): one that mixes scripts (``pаypal``, a
Cyrillic ``а`` among Latin letters; Latin beside Han, Hiragana, Katakana or Hangul is how Japanese,
Chinese and Korean names are written, and stays), and one written wholly in Cyrillic or Greek
letters that all look like Latin ones (``аррӏе``). An admin deciding whom to let in must not read
``apple.com`` where the address is another domain.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TypeVar

import idna

V = TypeVar("V")


def idn_ascii(value: str) -> str:
    """``value`` — an email address or a domain name — with its domain in ASCII (IDNA A-labels,
    after UTS #46 mapping, which also lower-cases it): ``anna@Müller.de`` is ``anna@xn--mller-kva.de``,
    ``müller.de`` is ``xn--mller-kva.de``. The local part stays as given; an ASCII domain is not
    looked at. Raises ``idna.IDNAError`` (a ``UnicodeError``) for a domain IDNA refuses: empty
    labels, characters DNS names cannot hold (spaces, ``,``, ``/`` …), a label or name too long.
    """
    local, at, domain = value.rpartition("@")
    if domain.isascii():
        return value
    return f"{local}{at}{idna.encode(domain, uts46=True).decode('ascii')}"


def idn_unicode(value: V) -> V | str:
    """``value`` — an email address or a domain name — with its domain in Unicode (IDNA U-labels).

    Anything else comes back as it was given: plain ASCII, a value that is not text, and a domain
    IDNA refuses to decode (an invalid A-label, an empty label, one too long …). Never raises: a
    row stored before validation got stricter must still be shown, as it is stored.
    """
    if not isinstance(value, str) or "xn--" not in value.lower():
        return value
    local, at, domain = value.rpartition("@")
    try:
        decoded = idna.decode(domain)
    except (UnicodeError, ValueError):  # idna.IDNAError is a UnicodeError
        return value
    stored, shown = domain.lower().split("."), decoded.split(".")
    if len(stored) != len(shown):
        return value
    labels = [a if _could_pass_for_another(u) else u for a, u in zip(stored, shown, strict=True)]
    return f"{local}{at}{'.'.join(labels)}"


_RUN = re.compile(r"[a-z0-9-]+")


def _label_read(match: re.Match[str]) -> str:
    run = match.group(0)
    if not run.startswith("xn--"):
        return run
    try:
        decoded = run[4:].encode("ascii").decode("punycode")
        decoded.encode("utf-8")  # a lone surrogate decodes, but is no character text can hold
    except UnicodeError:  # not Punycode: stays as it is
        return run
    # A label's Unicode form holds a letter beyond ASCII, and nothing unprintable ("xn--ab" decodes
    # to two control characters); what does not read as one stays as it is.
    return decoded if not decoded.isascii() and decoded.isprintable() else run


def labels_read(text: str) -> str:
    """``text`` (lower case, as stored) with every ``xn--`` label decoded by Punycode alone:
    ``user@xn--bcher-kva.example`` → ``user@bücher.example``, ``xn--ls8h.la`` → ``💩.la``.

    For searching, not for showing: unlike ``idn_unicode`` it decodes labels IDNA 2008 refuses and
    labels that could pass for another (``idn_unicode`` shows those in ASCII), so that what a person
    types finds them. A label that does not decode stays as it is.
    """
    return _RUN.sub(_label_read, text) if "xn--" in text else text


# Cyrillic and Greek letters that pass for Latin ones (lower case: IDNA case-folds), after
# Chromium's list for its whole-script check; a label of them alone can spell a Latin name.
_LATIN_LOOKALIKES = set("асԁеһіјӏорԛѕԝхуъьҽпгѵѡ" + "αικνορτυχϲϳ")
_CJK = {"CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"}


def _script(char: str) -> str:
    """The script of a letter, by its Unicode name's first word (LATIN, CYRILLIC, CJK …)."""
    return unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]


def _could_pass_for_another(label: str) -> bool:
    scripts = {_script(char) for char in label if char.isalpha()}
    if "LATIN" in scripts and scripts - {"LATIN"} - _CJK:
        return True  # Latin mixed with another alphabet
    if len(scripts - {"LATIN"} - _CJK) > 1:
        return True  # two non-Latin alphabets in one label
    letters = [char for char in label if char.isalpha()]
    return bool(letters) and scripts <= {"CYRILLIC", "GREEK"} and all(c in _LATIN_LOOKALIKES for c in letters)
