// What every page of the centre shares, before its own script: the page's language and time zone
// (the server chose them; common.js follows), and the header (central/pages/_top.html): who is
// logged in, the links their role may open (the server checks again: 403), the current page
// marked, and logging out.
"use strict";

(() => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  if (Huis.lang !== page.lang) Huis.setLang(page.lang);
  if (page.tz) Huis.setTimeZone(page.tz);
  const header = document.querySelector("header.top");
  if (!header) return;  // the login page
  const t = Huis.scope("central");
  for (const a of header.querySelectorAll("a[id^='nav-']")) {
    if (a.pathname === location.pathname) a.setAttribute("aria-current", "page");
  }
  document.getElementById("nav-audit").hidden = !["coordinator", "admin"].includes(page.role);
  document.getElementById("nav-accounts").hidden = page.role !== "admin";
  document.getElementById("logout").addEventListener("click", async () => {
    try { await Huis.api("POST", "/api/logout"); } finally { location.assign("/login"); }
  });
  Huis.api("GET", "/api/session").then(({ user: u }) => {
    const teams = u.all_homes ? t("teams_all") : t("teams_of", { teams: u.teams.join(", ") });
    document.getElementById("who").textContent = t("who", { name: u.name, role: t("role_" + u.role), teams });
  }).catch(() => {});
})();
