// The care centre's login: posts the name and password with the CSRF token, then goes where
// the server says (`next` only when it is a path on this site; the server decides).
"use strict";

(() => {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const t = key => page.texts[key] ?? key;
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)huis_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const r = await fetch("/api/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "Accept-Language": page.lang, "X-CSRF-Token": csrf() },
        body: JSON.stringify({ username: form.username.value.trim(), password: form.password.value,
                               next: new URLSearchParams(location.search).get("next") }),
      });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(typeof data.detail === "string" ? data.detail : t("login_wrong"));
      // The server already checked `go`; a path on this site, never another host.
      location.assign(data.go && data.go.startsWith("/") && !data.go.startsWith("//") ? data.go : "/");
    } catch (e) {
      error.textContent = e.message;
      form.password.value = "";
      form.password.focus();
    } finally {
      button.disabled = false;
    }
  });
})();
