"""Every page on a phone (390 px) and on a laptop (1280 px), in a real browser: it fits the screen
and its navigation can be used.

The pages are those of the hostile-input walk (``test_hostile_input.pages``: every route, opened by
whoever uses it, with the objects of one org), each HTML one loaded at both widths by the same
person: one browser, one context per person, signed in once (the walk's own session, its cookie
handed to the browser). On each:

- the page is no wider than the screen (``scrollWidth <= clientWidth``): nothing pushes the top
  bar, the navigation or a form off to the side;
- what scrolls or cuts sideways inside the page is one of the design system's panes (``PANES``): a
  table in its ``.table-wrap`` (app.css; every table is in one), the audit event's JSON, a field's
  own text. Nothing else cuts its content or lets it spill out of its box over what stands beside;
- the content (``main``) takes the room it has, its maximum width or the screen less what stands
  beside it (a page without a sidebar once put its content in the sidebar's 240 px);
- the navigation is usable: each navigation landmark is shown in one of its two forms (the sidebar
  on a laptop, "Menu" on a phone); on a phone "Menu" opens it, and every link and button of the
  navigation and of the top bar lies within the screen, drawn on top (nothing covers it, once
  scrolled to), and no open navigation lies over the page's content (``main``); the organization
  switcher, opened, covers neither its own toggle nor lies past the screen's edge;
- the page's title (its ``<h1>``) starts on the first screen: the content comes first.

The accessibility of the same pages' markup is ``test_accessibility.py``'s; axe-core and the
layout's finer points (a button's label on one line, cards sharing a row) are in ``console/tests``.
"""

from __future__ import annotations

import pytest

from orgwarden.tests.test_hostile_input import alpha as alpha
from orgwarden.tests.test_hostile_input import certificate_pem as certificate_pem
from orgwarden.tests.test_hostile_input import is_html_page, pages
from orgwarden.tests.test_hostile_input import no_dns_outside as no_dns_outside
from orgwarden.tests.test_tenant_isolation import send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1280, "height": 800}}

# What may scroll or clip sideways inside a page: app.css's table pane, the audit event's JSON.
PANES = ".table-wrap, .json-scroll, pre.json"

# Helpers of the checks below, in the browser.
HELPERS = """
  const name = (e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
    + [...e.classList].map((c) => "." + c).join("")
    + (e.textContent.trim() ? ` "${e.textContent.trim().replace(/\\s+/g, " ").slice(0, 40)}"` : "");
  const drawn = (e) => { const r = e.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && e.checkVisibility({visibilityProperty: true}); };
  const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
"""

# The page fits the screen: one line per problem.
FITS = f"""([panes, firstScreen]) => {{ {HELPERS}
  const problems = [], root = document.documentElement, width = root.clientWidth;
  const inPane = (e) => !!e.parentElement && !!e.parentElement.closest(panes);
  const all = [...document.body.querySelectorAll("*")].filter((e) => drawn(e) && !inPane(e));
  if (root.scrollWidth > width) {{
    const past = all.filter((e) => e.getBoundingClientRect().right > width + 0.5
      && ![...e.children].some((c) => c.getBoundingClientRect().right > width + 0.5));
    problems.push(`the page is ${{root.scrollWidth - width}} px wider than the screen: `
      + past.slice(0, 3).map(name).join(", "));
  }}
  // Content wider than its box is cut, scrolls, or spills over what stands beside it.
  for (const e of all) {{
    if (e.scrollWidth <= e.clientWidth + 1 || e.matches("input, textarea, select, svg *, " + panes)) continue;
    const overflow = getComputedStyle(e).overflowX;
    if (overflow === "visible" && !e.matches("html, body")) {{
      problems.push(`${{name(e)}}'s content spills out of it: ${{e.scrollWidth}} px in ${{e.clientWidth}}`);
    }} else if (overflow !== "visible") {{
      problems.push(`${{name(e)}} ${{overflow === "hidden" || overflow === "clip" ? "cuts" : "scrolls"}} `
        + `its content sideways (overflow-x: ${{overflow}}): not one of the design system's panes`);
    }}
  }}
  for (const table of document.querySelectorAll("table")) {{
    if (!table.parentElement.closest(".table-wrap")) {{
      problems.push(`${{name(table)}} is not in a .table-wrap`);
    }}
  }}
  // The content takes the room it has: its maximum width, or the screen less what stands beside it.
  const main = document.querySelector("main");
  if (main) {{
    const box = main.getBoundingClientRect();
    const beside = [...main.parentElement.children].filter((e) => e !== main && drawn(e)
      && e.getBoundingClientRect().top < box.bottom && box.top < e.getBoundingClientRect().bottom);
    const taken = beside.reduce((sum, e) => sum + e.getBoundingClientRect().width, 0);
    const room = main.parentElement.clientWidth - taken;
    const most = Math.min(room, parseFloat(getComputedStyle(main).maxWidth) || Infinity);
    if (box.width < most - 2) {{
      problems.push(`the page's content is ${{Math.round(box.width)}} px wide, `
        + `with ${{Math.round(most)}} px for it`);
    }}
  }}
  const title = document.querySelector("h1");
  if (firstScreen && title && title.getBoundingClientRect().top > window.innerHeight) {{
    const top = Math.round(title.getBoundingClientRect().top);
    problems.push(`its title starts ${{top}} px down, past the first screen`);
  }}
  return problems;
}}"""

# The navigation can be used: each landmark shown in one of its forms and beside the content, not
# over it; each of ``controls`` within the screen and drawn on top once scrolled to.
REACHABLE = f"""(controls) => {{ {HELPERS}
  const problems = [], width = document.documentElement.clientWidth, main = document.querySelector("main");
  const landmarks = new Map();
  for (const nav of document.querySelectorAll("nav")) {{
    const label = nav.getAttribute("aria-label") || "navigation";
    landmarks.set(label, [...(landmarks.get(label) || []), nav]);
  }}
  for (const [label, navs] of landmarks) {{
    const shown = navs.filter(drawn);
    if (!shown.length) problems.push(`the "${{label}}" navigation is not shown`);
    for (const nav of shown) {{
      if (main && !main.contains(nav) && !nav.contains(main)
          && overlaps(nav.getBoundingClientRect(), main.getBoundingClientRect())) {{
        problems.push(`the "${{label}}" navigation lies over the page's content`);
      }}
    }}
  }}
  for (const control of [...document.querySelectorAll(controls)].filter(drawn)) {{
    control.scrollIntoView({{block: "center", inline: "nearest"}});
    const r = control.getBoundingClientRect();
    if (r.left < 0 || r.right > width + 0.5) {{
      problems.push(`${{name(control)}} lies past the screen's edge`);
      continue;
    }}
    // Its middle, and four points a quarter in from its corners: a menu opened over the second
    // line of a two-line toggle covers its lower points, not its middle.
    for (const [x, y] of [[2, 2], [1, 1], [3, 1], [1, 3], [3, 3]]) {{
      const hit = document.elementFromPoint(r.left + (x * r.width) / 4, r.top + (y * r.height) / 4);
      if (!hit || !(control.contains(hit) || hit.contains(control))) {{
        problems.push(`${{name(control)}} is covered by ${{hit ? name(hit) : "nothing drawn"}}`);
        break;
      }}
    }}
  }}
  window.scrollTo(0, 0);
  return problems;
}}"""
NAVIGATION = "nav a[href], nav button, nav summary, header a[href], header button, header summary"
OPEN_HEADER_MENU = "header details[open] > summary, header details[open] a[href]"


def layout_problems(page) -> list[str]:
    """What ``FITS`` and ``REACHABLE`` find on ``page`` as loaded; then with each "Menu" (a closed
    navigation that is shown) opened; then with the top bar's menu (the organization switcher) open
    over the page, its toggle and its links."""
    problems = page.evaluate(FITS, [PANES, True]) + page.evaluate(REACHABLE, NAVIGATION)
    menus = [menu for menu in page.locator("nav details:not([open]) > summary").all() if menu.is_visible()]
    for menu in menus:
        menu.click()
    if menus:
        problems += page.evaluate(FITS, [PANES, False]) + page.evaluate(REACHABLE, NAVIGATION)
    for menu in page.locator("header details > summary").all():
        if menu.is_visible():
            menu.click()  # open
            problems += page.evaluate(REACHABLE, OPEN_HEADER_MENU)
            menu.click()  # and closed again
    return list(dict.fromkeys(problems))


def test_every_page_fits_a_phone_and_a_laptop_and_its_navigation_can_be_used(alpha, new_page, live_server):
    tabs = {}  # one browser context per person, with the walk's session
    problems: list[str] = []
    loaded = 0
    for visit in pages(alpha):
        if not is_html_page(send(visit.client, "GET", visit.url)):
            continue  # a download, a JSON or XML document, a redirect, an action only POSTed
        if id(visit.client) not in tabs:
            tabs[id(visit.client)] = tab = new_page()
            tab.context.add_cookies(
                [
                    {"name": c.key, "value": c.value, "url": live_server.url}
                    for c in visit.client.cookies.values()
                ]
            )
        tab = tabs[id(visit.client)]
        for screen, size in SCREENS.items():
            tab.set_viewport_size(size)
            tab.goto(visit.url)
            loaded += 1
            problems += [f"{visit.url} ({visit.who}, {screen}): {p}" for p in layout_problems(tab)]
    assert loaded > 120, loaded
    assert not problems, f"{len(problems)} problems on {loaded} pages:\n" + "\n".join(problems)


# A page with none of the problems, on a laptop: a sidebar beside the content, a table in its pane.
GOOD = """<!doctype html><html lang="en"><head><style>
body { margin: 0; } .layout { display: grid; grid-template-columns: 200px minmax(0, 1fr); }
main { max-width: 900px; } .table-wrap { overflow-x: auto; } td { white-space: nowrap; }
</style></head><body><header><a href="/">Home</a></header>
<div class="layout"><nav class="sidebar" aria-label="Organization"><a href="/users">Users</a></nav>
<main><h1>Users</h1><div class="table-wrap"><table><tr><th>Name</th></tr><tr><td>WIDE</td></tr></table></div>
<p>TEXT</p></main></div></body></html>"""


BREAKS = [  # (what is replaced, by what, what the problem it makes says)
    ("TEXT", "<span style='white-space: nowrap'>" + "wide " * 400 + "</span>", "px wider than the screen"),
    ("<p>TEXT", "<p style='width: 50px; overflow: hidden'>" + "x" * 40, "cuts its content sideways"),
    ("<p>TEXT", "<p style='width: 50px'>" + "x" * 40, "content spills out of it: "),
    ("<p>TEXT</p>", "<table><tr><th>Name</th></tr></table>", "is not in a .table-wrap"),
    (
        '<nav class="sidebar" aria-label="Organization"><a href="/users">Users</a></nav>',
        "",
        "the page's content is 200 px wide",
    ),
    ('class="sidebar"', 'class="sidebar" style="visibility: hidden"', "navigation is not shown"),
    ('class="sidebar"', 'class="sidebar" style="width: 600px"', "navigation lies over the page's content"),
    (
        "</header>",
        "</header><div style='position: fixed; inset: 0; background: #fff'></div>",
        'a "Home" is covered',
    ),
    ("<header>", "<header style='margin-left: -100px'>", 'a "Home" lies past the screen'),
    ("<h1>", "<div style='height: 2000px'></div><h1>", "past the first screen"),
]


def test_the_checks_see_each_problem(new_page):
    """Each check can fail: the page above has none of the problems, and each break is found (with
    what follows from it: a line too wide also spills out of its paragraph)."""
    page = new_page()
    page.set_viewport_size(SCREENS["laptop"])

    def problems(html: str) -> list[str]:
        page.set_content(html.replace("WIDE", "wide " * 400))
        return page.evaluate(FITS, [PANES, True]) + page.evaluate(REACHABLE, NAVIGATION)

    assert problems(GOOD) == []
    missed = []
    for old, new, found in BREAKS:
        assert old in GOOD, old
        seen = problems(GOOD.replace(old, new, 1))
        if not any(found in problem for problem in seen):
            missed.append(f"{new[:60]!r}: expected {found!r}, found {seen}")
    assert not missed, "\n".join(missed)
