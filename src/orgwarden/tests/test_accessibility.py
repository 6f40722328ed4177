"""Every page can be used without seeing it: its HTML names what a screen reader reads out.

The pages are those of the hostile-input walk (``test_hostile_input.pages``: every route, opened by
whoever uses it, with the objects of one org), the answers to their forms (each POST form sent as
the page shows it, which gives its errors, and filled in as the audit walk fills it, which gives a
confirmation or a secret shown once; in a savepoint rolled back after it), and the error pages no
route answers with while all goes well (``console/errors/``). Each is read as the server sent it
(no browser: what the markup promises before any script runs), and must have

- a language (``<html lang>``) and exactly one ``<h1>``;
- a name for every form control shown (an ``<input>`` other than hidden ones and buttons, a
  ``<select>``, a ``<textarea>``): a ``<label for>`` its id that holds text, a ``<label>`` around
  it, ``aria-label``, or ``aria-labelledby`` pointing at elements that hold text;
- unique ids, and no ``for``, ``aria-describedby``, ``aria-labelledby``, ``aria-controls`` or
  in-page link (``href="#…"``) naming an id the page does not have: a repeated or missing id makes
  a label, a help text or an error describe nothing, or another field;
- an ``alt`` on every ``<img>`` (``alt=""`` for a decorative one);
- header cells (``<th>``) in every ``<table>``, none of them empty;
- a name for every button (``<summary>``, a disclosure's button, too) and link: its text (hidden
  from the eye or not, but not from a screen reader: ``aria-hidden`` parts do not count), an
  image's ``alt`` inside it, ``aria-label`` or ``aria-labelledby``.

An element with the ``hidden`` attribute is not shown to anyone (a username field for password
managers) and needs no name. The browser's side (focus, contrast, what axe-core finds with data on
every page) is tested in ``console/tests/test_accessibility.py`` and
``console/tests/test_accessibility_browser.py``; narrow screens, on this walk's pages, in
``test_narrow_screens.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import lxml.html
import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from orgwarden.tests.test_every_change_audited import submitted
from orgwarden.tests.test_hostile_input import alpha as alpha
from orgwarden.tests.test_hostile_input import certificate_pem as certificate_pem
from orgwarden.tests.test_hostile_input import forms_of, is_html_page, pages
from orgwarden.tests.test_hostile_input import no_dns_outside as no_dns_outside
from orgwarden.tests.test_tenant_isolation import NOTHING_TO_SHOW, form_body, send

pytestmark = pytest.mark.django_db

# An <input> of these types is a button (named by its value) or is not shown: no label needed.
NOT_FIELDS = ("hidden", "submit", "reset", "button", "image")


def text_of(element) -> str:
    """What a screen reader reads out of ``element``'s content: its text and its images' ``alt``,
    without the parts hidden from it (``aria-hidden="true"``)."""
    if element.get("aria-hidden") == "true":
        return ""
    parts = [element.get("alt") or ""] if element.tag == "img" else [element.text or ""]
    for child in element:
        if isinstance(child.tag, str):
            parts.append(text_of(child))
        parts.append(child.tail or "")
    return " ".join(" ".join(parts).split())


def named_by_attributes(element, ids: dict) -> bool:
    """Whether ``element`` is named by ``aria-label``, or by ``aria-labelledby`` elements (of
    ``ids``, the page's elements by id) that hold text."""
    if (element.get("aria-label") or "").strip():
        return True
    labelledby = (element.get("aria-labelledby") or "").split()
    return bool(labelledby) and all(i in ids for i in labelledby) and any(text_of(ids[i]) for i in labelledby)


def problems_of(html: bytes) -> list[str]:
    """What keeps a screen reader from reading the page ``html`` right, one line each."""
    document = lxml.html.document_fromstring(html)
    found = []

    def show(element) -> str:
        return " ".join(lxml.html.tostring(element, encoding="unicode", with_tail=False).split())[:160]

    if not (document.get("lang") or "").strip():
        found.append("<html> has no lang")
    headings = document.xpath("//h1")
    if len(headings) != 1:
        found.append(f"{len(headings)} <h1> ({', '.join(repr(text_of(h)) for h in headings)}), not one")

    ids: dict[str, object] = {}
    for element in document.xpath("//*[@id]"):
        ids.setdefault(element.get("id"), element)
    for repeated, count in Counter(document.xpath("//*/@id")).items():
        if count > 1:
            found.append(f'id="{repeated}" is used {count} times')

    for element in document.xpath("//*[@for or @aria-describedby or @aria-labelledby or @aria-controls]"):
        for attribute in ("for", "aria-describedby", "aria-labelledby", "aria-controls"):
            for missing in [i for i in (element.get(attribute) or "").split() if i not in ids]:
                found.append(f'{attribute}="{missing}" names no element of the page: {show(element)}')
    for link in document.xpath("//a[starts-with(@href, '#') and string-length(@href) > 1]"):
        if link.get("href")[1:] not in ids:
            found.append(f"a link to no element of the page: {show(link)}")

    labelled = {label.get("for") for label in document.xpath("//label[@for]") if text_of(label)}
    fields = document.xpath("//input|//select|//textarea")
    for field in [f for f in fields if not f.xpath("ancestor-or-self::*[@hidden]")]:
        if field.tag == "input" and (field.get("type") or "text").lower() in NOT_FIELDS:
            continue
        has_label = field.get("id") in labelled or field.xpath("ancestor::label")
        if not (has_label or named_by_attributes(field, ids)):
            found.append(f"a form control without a name: {show(field)}")

    for image in document.xpath("//img[not(@alt)]"):
        found.append(f"an image without alt: {show(image)}")
    for table in document.xpath("//table[not(.//th)]"):
        found.append(f"a table without header cells: {show(table)}")
    for header in document.xpath("//th"):
        if not (text_of(header) or named_by_attributes(header, ids)):
            found.append(f"an empty header cell: {show(header)}")
    for control in document.xpath("//input[@type='image' and not(normalize-space(@alt))]"):
        found.append(f"an image button without alt: {show(control)}")
    for control in document.xpath("//input[@type='button' or @type='reset'][not(normalize-space(@value))]"):
        if not named_by_attributes(control, ids):
            found.append(f"a button without a name: {show(control)}")
    for control in document.xpath("//button|//a[@href]|//summary"):
        if not (text_of(control) or named_by_attributes(control, ids)):
            kind = "link" if control.tag == "a" else "button"
            found.append(f"a {kind} without a name: {show(control)}")
    return found


def answers_to_forms(
    client: Client, page: HttpResponse, url: str, plausible: dict, seen: set
) -> Iterator[tuple[str, HttpResponse]]:
    """(address, answer) for each POST form of ``page``, sent twice, each time in a savepoint rolled
    back after it: as the page gives it (sent before anything is filled in: the form's errors) and
    filled in with the isolation walk's plausible values (``submitted``: a confirmation, a secret
    shown once). Then the same for the forms of a page such an answer shows. A body already in
    ``seen`` (the same form on another page of the same person: "Sign out" in the top bar) is not
    sent again."""
    forms = [form for form in forms_of(page, url) if form.method == "post"]
    while forms:
        form = forms.pop(0)
        action = f"{form.path}?{urlencode(form.query)}" if form.query else form.path
        for body in (form.as_shown(), submitted(form, plausible)):
            key = (id(client), action, tuple(sorted((name, tuple(values)) for name, values in body.items())))
            if key in seen:
                continue
            seen.add(key)
            with transaction.atomic():
                answer = send(client, "POST", action, body)
                transaction.set_rollback(True)
            yield action, answer
            if answer.status_code == 200 and is_html_page(answer):
                forms += [form for form in forms_of(answer, action) if form.method == "post"]


def error_pages() -> Iterator[tuple[str, bytes]]:
    """The error pages no route of the walk answers with while all goes well (a crash, maintenance,
    a form sent without its CSRF token), rendered as their handlers render them."""
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    for template in sorted((Path(__file__).parents[1] / "console/templates/console/errors").glob("*.html")):
        name = f"console/errors/{template.name}"
        yield name, render_to_string(name, {"reason": "CSRF token missing."}, request=request).encode()


def test_every_page_names_what_a_screen_reader_reads_out(alpha):
    problems: list[str] = []
    checked = 0
    plausible, sent = form_body(alpha), set()
    for visit in pages(alpha):
        page = send(visit.client, "GET", visit.url)
        if page.status_code == 404 and visit.route.name not in NOTHING_TO_SHOW:
            problems.append(f"{visit.url} ({visit.route}): 404, the walk names no object of the org here")
        if not is_html_page(page):
            continue
        checked += 1
        problems += [f"{visit.url} ({visit.who}): {p}" for p in problems_of(page.content)]
        for action, answer in answers_to_forms(visit.client, page, visit.url, plausible, sent):
            if is_html_page(answer):
                checked += 1
                said = f"POST {action} ({visit.who}) -> {answer.status_code}"
                problems += [f"{said}: {p}" for p in problems_of(answer.content)]
    for name, html in error_pages():
        checked += 1
        problems += [f"{name}: {p}" for p in problems_of(html)]
    assert checked > 100, checked
    assert not problems, f"{len(problems)} problems on {checked} pages:\n" + "\n".join(problems)


# A page with none of the problems: each part is named the way the checks accept.
GOOD = b"""<!doctype html><html lang="en"><head><title>t</title></head><body>
<a class="skip-link" href="#main">Skip to content</a>
<main id="main"><h1>Users</h1>
<form><label for="q">Search</label><input id="q" name="q" aria-describedby="q_help">
<span id="q_help">Name</span>
<label>Status <select name="s"><option>Active</option></select></label>
<textarea aria-label="Note" name="n"></textarea>
<span id="when">Date</span><input type="date" aria-labelledby="when" name="d">
<input type="hidden" name="x"><input type="email" name="username" hidden><input type="submit" value="Go">
<button><span class="sr-only">Remove</span><span aria-hidden="true">\xc3\x97</span></button>
<button aria-label="Close"></button><input type="button" value="Copy"></form>
<details><summary>Menu</summary></details>
<a href="/"><img src="/logo.svg" alt="orgwarden"></a><img src="/qr.png" alt="">
<table><tr><th>Name</th><th><span class="sr-only">Select</span></th></tr>
<tr><td>Ada</td><td></td></tr></table>
</main></body></html>"""


@pytest.mark.parametrize(
    ("old", "new", "found"),
    [
        (b'<html lang="en">', b"<html>", ["<html> has no lang"]),
        (b"<h1>Users</h1>", b"<h2>Users</h2>", ["0 <h1>"]),
        (b"<h1>Users</h1>", b"<h1>Users</h1><h1>Again</h1>", ["2 <h1>"]),
        (
            b'<label for="q">',
            b'<label for="query">',
            ['for="query" names no', 'a form control without a name: <input id="q"'],
        ),
        (b'<label for="q">Search', b'<label for="q">', ['a form control without a name: <input id="q"']),
        (b'<span id="q_help">', b'<span id="q_hint">', ['aria-describedby="q_help" names no']),
        (b'aria-label="Note"', b'aria-label=" "', ["a form control without a name: <textarea"]),
        (b'<span id="when">Date', b'<span id="when">', ['a form control without a name: <input type="date"']),
        (
            b'<span id="when">',
            b'<span id="q">',
            [
                'id="q" is used 2 times',
                'aria-labelledby="when" names no',
                'a form control without a name: <input type="date"',
            ],
        ),
        (
            b' name="username" hidden',
            b' name="username"',
            ['a form control without a name: <input type="email"'],
        ),
        (b'src="/qr.png" alt=""', b'src="/qr.png"', ['an image without alt: <img src="/qr.png"']),
        (b"<tr><th>Name</th><th>", b"<tr><td>Name</td><td>", ["a table without header cells"]),
        (b'<span class="sr-only">Select</span>', b"", ["an empty header cell"]),
        (b'class="sr-only">Remove', b'class="sr-only">', ["a button without a name: <button><span"]),
        (b' value="Copy"', b"", ['a button without a name: <input type="button"']),
        (b"<summary>Menu</summary>", b"<summary></summary>", ["a button without a name: <summary>"]),
        (b' alt="orgwarden"', b' alt=""', ['a link without a name: <a href="/">']),
        (b'<main id="main">', b"<main>", ['a link to no element of the page: <a class="skip-link"']),
    ],
)
def test_the_walk_sees_each_problem(old, new, found):
    """Each check can fail: the page above has none of the problems, and each break gives its own."""
    assert problems_of(GOOD) == []
    assert old in GOOD
    problems = problems_of(GOOD.replace(old, new, 1))
    assert len(problems) == len(found), problems
    assert all(problem.startswith(start) for problem, start in zip(problems, found, strict=True)), problems
