"""The audit log's search finds any part of an internationalised domain label typed in Unicode.

Events store addresses in ASCII (``user@xn--bcher-kva.example``). The whole of a label typed in
Unicode was turned into that form and found; a part of one ("büch") was not, since Punycode keeps
no prefixes. The search now also matches the stored labels read back in Unicode, in SQL:
``orgwarden_idn_unicode`` (``orgwarden.db.idn``), the same decoding on SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from orgwarden.audit.models import AuditEvent
from orgwarden.audit.services import Actor, Target, event_record
from orgwarden.db.idn import text_idn_unicode

pytestmark = pytest.mark.django_db


def sql_idn_unicode(text: str | None) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT orgwarden_idn_unicode(%s)", [text])
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("stored", "read"),
    [
        ("user@xn--bcher-kva.example", "user@bücher.example"),
        ("anna müller anna@mail.xn--mller-kva.de", "anna müller anna@mail.müller.de"),
        ("xn--80adxhks.xn--p1ai", "москва.рф"),
        ("xn--1lqs71d.jp", "東京.jp"),
        ("xn--abc-r73b4fvb9j.jp", "abcひらがな.jp"),
        ("xn--hxargifdar.gr", "ελληνικά.gr"),
        ("xn--pypal-4ve.com", "pаypal.com"),  # shown in ASCII (idn_unicode), but found by its letters
        ("xn--ls8h.la", "💩.la"),
        ("plain.example bob", "plain.example bob"),
        ("foo-xn--bcher-kva.example", "foo-xn--bcher-kva.example"),  # not a label's start
        ("xn--99999999999999999999a.example", "xn--99999999999999999999a.example"),  # overflows
        ("xn--bcher-kva", "bücher"),
        ("", ""),
        (None, None),
    ],
)
def test_sqlite_and_postgresql_read_labels_back_alike(stored, read):
    assert text_idn_unicode(stored) == read
    assert sql_idn_unicode(stored) == read


@pytest.mark.parametrize(
    "label", ["xn--", "xn---", "xn--a", "xn--a-", "xn--zz", "xn--d", "xn--99a", "xn--a-9z9z9z", "xn--ab!"]
)
def test_what_is_not_punycode_reads_the_same_in_both(label):
    assert sql_idn_unicode(f"u@{label}.x") == text_idn_unicode(f"u@{label}.x")


def test_the_console_search_finds_part_of_a_label_typed_in_unicode(admin_client, org, org_admin):
    def record(email: str) -> AuditEvent:
        target = Target("account", "a" * 24, "Bea", email)
        return event_record(
            action="org:account:claimed", actor=Actor.system(), org_id=org.org_id, targets=[target]
        )

    from django.db import transaction

    with transaction.atomic():
        books = record("user@xn--bcher-kva.example")
        moscow = record("ivan@xn--80adxhks.xn--p1ai")
        plain = record("user@buecher.example")

    def found(q: str) -> set[str]:
        response = admin_client.get(reverse("console:audit_log", args=[org.org_id]), {"q": q})
        assert response.status_code == 200
        return {event.id for event in response.context["page"].events}

    for q in ("büch", "BÜCH", "ücher", "bücher", "bücher.example", "user@bü", "r@bücher.ex", "ｂüch"):
        assert found(q) == {books.id}, q
    assert found("москв") == {moscow.id}
    assert found("ва.рф") == {moscow.id}
    assert found("bcher-kva") == {books.id}  # the stored form still matches
    assert found("buech") == {plain.id}
    assert found("büx") == set()
