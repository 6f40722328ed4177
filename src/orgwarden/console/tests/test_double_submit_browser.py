"""A form that changes something is sent once, however often its button is clicked.

A double click on a console button sent the form twice, and the page showed the answer to the
second request — "Page not found" after a remove, "revoked already" after a revoke — instead of
what the first one did (``console/static/orgwarden/app.js``).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgwarden.accounts.tests.factories import PASSWORD
from orgwarden.testing import browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# Submits the page's form twice in a row, as a second click does while the first request is on its
# way, and counts the submissions the page's scripts let through (a listener on window runs after
# app.js's on document; it stops every submission here, so nothing is sent).
TWICE = """(selector) => {
  let through = 0;
  window.addEventListener("submit", (event) => {
    if (!event.defaultPrevented) through += 1;
    event.preventDefault();
  });
  const form = document.querySelector(selector);
  form.requestSubmit();
  form.requestSubmit();
  return through;
}"""


def test_a_second_click_while_the_first_is_on_its_way_sends_nothing(new_page, org_admin):
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:org_settings", args=[org_admin.org.org_id]))
    assert page.evaluate(TWICE, "main form[method=post]") == 1
    # a form that only reads (GET: a search, a filter) is not held back
    page.goto(reverse("console:audit_log", args=[org_admin.org.org_id]))
    assert page.evaluate(TWICE, "main form[method=get]") == 2


def test_a_form_can_be_sent_again_once_its_page_is_shown_again(new_page, org_admin):
    """Back to the form (the back-forward cache keeps the page as it was) and send it again."""
    org = org_admin.org
    page = new_page()
    browser.sign_in(page, org_admin.account.email, PASSWORD)
    page.goto(reverse("console:org_settings", args=[org.org_id]))
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.get_by_label("Name").fill("First Inc")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    page.go_back()
    page.get_by_label("Name").fill("Second Inc")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert len(posts) == 2, posts
    org.refresh_from_db()
    assert org.name == "Second Inc"
