/* The little behaviour the server-rendered pages need that HTML does not give them.

Plain JavaScript, no build step, loaded from our own origin (the Content-Security-Policy allows
scripts from 'self' only, never inline). Every page works without it; it adds keyboard manners. */
(() => {
  "use strict";

  // Disclosure menus (<details data-disclosure>, the organization switcher): Escape closes the open
  // one and gives focus back to its toggle, as WAI-ARIA's disclosure pattern expects. Browsers do
  // not do this for <details>, and without it a keyboard user is left inside a menu still open.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || event.defaultPrevented || !(event.target instanceof Element)) return;
    const menu = event.target.closest("details[data-disclosure][open]");
    if (!menu) return;
    event.preventDefault();
    menu.open = false;
    menu.querySelector(":scope > summary").focus();
  });

  // A form that changes something is sent once: a double click on "Remove" or "Revoke" sent it
  // twice, and the page then showed the answer to the second ("not found", "already revoked")
  // instead of what the first did. A form whose answer does not replace the page (a download) can
  // be sent again after a few seconds, and one shown again from the back-forward cache at once.
  const SENT = "sent";
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || !(form instanceof HTMLFormElement) || form.method !== "post") return;
    if (form.dataset[SENT]) {
      event.preventDefault();
      return;
    }
    form.dataset[SENT] = "1";
    setTimeout(() => delete form.dataset[SENT], 5000);
  });
  window.addEventListener("pageshow", () => {
    document.querySelectorAll("form[data-sent]").forEach((form) => delete form.dataset[SENT]);
  });

  // A table wider than its pane scrolls sideways inside it (.table-wrap; on a phone, most do). A
  // keyboard user scrolls a pane with the arrow keys once it has focus, so while a pane scrolls it
  // is a focusable region named after its table (WCAG 2.1.1); when it fits again (a wider window)
  // it stops being a tab stop, which would lead nowhere. Panes a template already made focusable
  // regions are left as they are.
  const SCROLLS = "scrollStop";
  const paneName = (pane) => {
    const caption = pane.querySelector("caption");
    const preceding = [...document.querySelectorAll("h1, h2, h3")].filter(
      (heading) => heading.compareDocumentPosition(pane) & Node.DOCUMENT_POSITION_FOLLOWING,
    );
    const named = caption || preceding.at(-1);
    return named ? named.textContent.replace(/\s+/g, " ").trim() : "Table";
  };
  const paneUpdate = (pane) => {
    const scrolls = pane.scrollWidth > pane.clientWidth;
    if (scrolls && !(SCROLLS in pane.dataset)) {
      pane.dataset[SCROLLS] = "";
      pane.tabIndex = 0;
      pane.setAttribute("role", "region");
      pane.setAttribute("aria-label", paneName(pane));
    } else if (!scrolls && SCROLLS in pane.dataset) {
      delete pane.dataset[SCROLLS];
      ["tabindex", "role", "aria-label"].forEach((name) => pane.removeAttribute(name));
    }
  };
  // A value to paste elsewhere (a DNS record, the IdP's settings, a key shown once) gets a Copy
  // button: selecting a long value by hand in a narrow field missed its end. The clipboard API needs
  // a secure context (https, localhost); on plain http the value is selected and copied the old way.
  const copied = async (source) => {
    const value = "value" in source ? source.value : source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(value);
      return;
    }
    if ("select" in source) source.select();
    else window.getSelection().selectAllChildren(source);
    if (!document.execCommand("copy")) throw new Error("copy refused");
  };
  const copyName = (source) => {
    const label = source.labels && source.labels[0];
    const term = source.closest("dd") && source.closest("dd").previousElementSibling;
    return ((label || term || {}).textContent || "value").replace(/\s+/g, " ").trim();
  };
  document.querySelectorAll(".copy-field, dd > code.secret").forEach((source) => {
    const row = document.createElement("div");
    row.className = "copy-row";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button-secondary button-small copy-button";
    const hidden = document.createElement("span");
    hidden.className = "sr-only";
    hidden.textContent = ` ${copyName(source)}`;
    const shown = document.createElement("span");
    shown.textContent = "Copy";
    button.append(shown, hidden);
    const status = document.createElement("span");
    status.className = "sr-only";
    status.setAttribute("role", "status");
    source.replaceWith(row);
    row.append(source, button, status);
    let reset;
    button.addEventListener("click", async () => {
      clearTimeout(reset);
      try {
        await copied(source);
        shown.textContent = "Copied";
        status.textContent = `${copyName(source)} copied`;
      } catch {
        shown.textContent = "Copy";
        status.textContent = "Could not copy: select the value and copy it";
      }
      reset = setTimeout(() => {
        shown.textContent = "Copy";
        status.textContent = "";
      }, 2500);
    });
  });

  const panes = new ResizeObserver((entries) => {
    entries.forEach((entry) => paneUpdate(entry.target.closest(".table-wrap")));
  });
  document.querySelectorAll(".table-wrap:not([tabindex])").forEach((pane) => {
    panes.observe(pane);
    pane.querySelectorAll(":scope > table").forEach((table) => panes.observe(table));
  });
})();
