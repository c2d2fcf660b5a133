// The centre's oversight pages: the audit viewer (/audit: who read what, when; filtered, paged,
// with the chain's verification state) and account management (/accounts: add with team and
// role, disable or enable, a new one-time password shown once). Texts: the catalogues'
// central.* ids in the page's one language; API calls with the CSRF header (common.js); the
// header is header.js's.
"use strict";

(() => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const t = Huis.scope("central");
  const { el, api } = Huis;
  const has = key => t(key) !== key;
  const session = api("GET", "/api/session").then(s => s.user);

  function fail(e) {
    if (e.status === 401) location.assign("/login?next=" + encodeURIComponent(location.pathname));
    return t("failed", { msg: e.message });
  }

  const fmtDateTime = iso => new Date(iso).toLocaleString(page.lang === "en" ? "en-GB" : "nl-NL",
    { dateStyle: "short", timeStyle: "medium", timeZone: page.tz });
  const role = r => (r && has("role_" + r) ? t("role_" + r) : (r || "—"));

  // -- the audit viewer ----------------------------------------------------------------------

  function auditViewer() {
    const form = document.getElementById("audit-filter");
    const A = { filter: {}, pages: [null], at: 0, next: null };  // pages: the `before` of each page seen

    async function chain() {
      const box = document.getElementById("chain");
      try {
        const v = await api("GET", "/api/audit/chain");
        const time = Huis.fmtTime(v.checked_at);
        box.dataset.state = v.ok ? "ok" : "bad";
        box.textContent = v.ok ? t("chain_ok", { n: v.rows, time })
                               : t(v.problem === "removed" ? "chain_removed" : "chain_edited", { seq: v.bad, time });
      } catch (e) {
        box.dataset.state = "bad";
        box.textContent = t("chain_failed", { msg: fail(e) });
      }
    }

    async function load() {
      const q = new URLSearchParams(Object.entries(A.filter).filter(([, v]) => v));
      const before = A.pages[A.at];
      if (before) q.set("before", before);
      const error = document.getElementById("audit-error");
      error.textContent = "";
      try {
        const d = await api("GET", "/api/audit?" + q.toString());
        const users = document.getElementById("f-user");
        if (users.options.length === 1) {
          users.append(...d.usernames.map(u => el("option", { value: u, text: u })));
          users.value = A.filter.username || "";
        }
        A.next = d.next_before;
        document.getElementById("audit-rows").replaceChildren(...(d.rows.length ? d.rows.map(r =>
          el("tr", { dataset: { seq: r.seq, action: r.action } },
            el("td", {}, el("time", { datetime: r.time, text: fmtDateTime(r.time) })),
            el("td", { text: r.username || t("nobody") }),
            el("td", { text: role(r.role) }),
            el("td", { text: has("act_" + r.action) ? t("act_" + r.action) : r.action }),
            el("td", {}, r.homes.map(h => el("code", { text: h })).flatMap((c, i) => (i ? [" ", c] : [c]))),
            el("td", {}, r.detail ? el("code", { text: r.detail }) : "")))
          : [el("tr", {}, el("td", { colspan: 6, class: "quiet-cell", text: t("audit_empty") }))]));
        document.getElementById("page-n").textContent = t("page_n", { n: A.at + 1 });
        document.getElementById("page-newer").disabled = A.at === 0;
        document.getElementById("page-older").disabled = !A.next;
        document.body.dataset.loaded = "1";
      } catch (e) {
        error.textContent = fail(e);
      }
    }

    form.addEventListener("submit", ev => {
      ev.preventDefault();
      A.filter = { username: form.username.value, home: form.home.value.trim(), day: form.day.value };
      A.pages = [null]; A.at = 0;
      load();
    });
    document.getElementById("f-clear").addEventListener("click", () => {
      form.reset();
      A.filter = {}; A.pages = [null]; A.at = 0;
      load();
    });
    document.getElementById("page-older").addEventListener("click", () => {
      if (!A.next) return;
      A.pages[A.at + 1] = A.next; A.at += 1;
      load();
    });
    document.getElementById("page-newer").addEventListener("click", () => {
      if (A.at === 0) return;
      A.at -= 1;
      load();
    });
    chain();
    load();
  }

  // -- accounts ------------------------------------------------------------------------------

  function accounts() {
    const result = document.getElementById("accounts-result");
    const once = document.getElementById("once");

    // The password is shown here once: the server keeps only its hash and cannot show it again.
    function showOnce(user, password) {
      document.getElementById("once-title").textContent = t("once_title", { user: user.username });
      document.getElementById("once-password").textContent = password;
      once.hidden = false;
      once.scrollIntoView({ block: "nearest" });
      document.getElementById("once-close").focus();
    }
    function hideOnce() {
      document.getElementById("once-password").textContent = "";
      once.hidden = true;
    }
    document.getElementById("once-close").addEventListener("click", hideOnce);

    async function act(fn) {
      hideOnce();  // a password shown before does not stay on the screen while the admin goes on
      result.textContent = "";
      result.className = "note";
      try {
        const text = await fn();
        if (text) { result.textContent = text; result.classList.add("sent"); }
      } catch (e) {
        result.textContent = fail(e);
        result.classList.add("failed");
      }
      await load();
    }

    const path = u => "/api/admin/users/" + encodeURIComponent(u.username);

    function row(u, me) {
      // Not one's own account: the server refuses it (409), so the page does not offer it.
      const toggle = u.username === me ? "" : el("button", { type: "button", class: "secondary small toggle", onclick: () => act(async () => {
        await api("POST", path(u) + "/disabled", { disabled: !u.disabled });
        return t(u.disabled ? "done_enabled" : "done_disabled", { user: u.username });
      }) }, t(u.disabled ? "enable" : "disable"));
      const reset = el("button", { type: "button", class: "secondary small reset", onclick: () => {
        // Ask first, in the row: a new password ends the old one and every open session.
        const cell = reset.parentElement;
        const yes = el("button", { type: "button", class: "primary small confirm", onclick: () => act(async () => {
          const r = await api("POST", path(u) + "/password");
          showOnce(r.user, r.password);
          return "";
        }) }, t("confirm_yes"));
        const no = el("button", { type: "button", class: "secondary small", onclick: () => load() }, t("cancel"));
        cell.replaceChildren(el("p", { class: "confirm-text", text: t("confirm_password", { user: u.username }) }), yes, " ", no);
        yes.focus();
      } }, t("new_password"));
      return el("tr", { dataset: { user: u.username, disabled: u.disabled ? "1" : "0" } },
        el("td", {}, el("b", { text: u.username })),
        el("td", { text: u.name !== u.username ? u.name : "" }),
        el("td", { text: role(u.role) }),
        el("td", { text: u.all_homes ? t("teams_all") : u.teams.join(", ") }),
        el("td", {}, el("span", { class: "chip " + (u.disabled ? "bad" : "good"), text: t(u.disabled ? "state_disabled" : "state_active") }),
          u.must_change && !u.disabled ? [" ", el("span", { class: "chip warn one-time", text: t("state_one_time") })] : null),
        el("td", { class: "num", text: String(u.sessions) }),
        el("td", { class: "row-actions" }, toggle, " ", reset));
    }

    async function load() {
      try {
        const [d, me] = await Promise.all([api("GET", "/api/admin/users"), session]);
        document.getElementById("accounts").replaceChildren(...d.users.map(u => row(u, me && me.username)));
        document.getElementById("known-teams").replaceChildren(...d.teams.map(team => el("option", { value: team })));
        document.body.dataset.loaded = "1";
      } catch (e) {
        result.textContent = fail(e);
      }
    }

    const form = document.getElementById("add-user");
    form.addEventListener("submit", async ev => {
      ev.preventDefault();
      const error = document.getElementById("add-error");
      error.textContent = "";
      try {
        const r = await api("POST", "/api/admin/users", {
          username: form.username.value.trim(), role: form.role.value,
          display_name: form.display_name.value.trim() || null,
          teams: form.teams.value.split(",").map(s => s.trim()).filter(Boolean) });
        form.reset();
        showOnce(r.user, r.password);
        result.textContent = t("done_added", { user: r.user.username });
        result.className = "note sent";
        await load();
      } catch (e) {
        error.textContent = fail(e);
      }
    });
    load();
  }

  if (document.getElementById("audit-filter")) auditViewer();
  if (document.getElementById("add-user")) accounts();
})();
