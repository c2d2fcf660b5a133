// The care centre's login: posts the name and password with the CSRF token (common.js's
// Huis.api), then goes where the server says (`next` only when it is a path on this site; the
// server decides).
"use strict";

(() => {
  const t = Huis.scope("central");
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");

  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const data = await Huis.api("POST", "/api/login", {
        username: form.username.value.trim(), password: form.password.value,
        next: new URLSearchParams(location.search).get("next") });
      // The server already checked `go`; a path on this site, never another host.
      location.assign(data.go && data.go.startsWith("/") && !data.go.startsWith("//") ? data.go : "/");
    } catch (e) {
      error.textContent = e.status === 401 || !e.message ? t("login_wrong") : e.message;
      form.password.value = "";
      form.password.focus();
    } finally {
      button.disabled = false;
    }
  });
})();
