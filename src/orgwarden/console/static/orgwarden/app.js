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
})();
