// The care centre's login, and choosing one's own password (after a one-time one): posts with
// the CSRF token (common.js's Huis.api), then goes where the server says (`next` only when it is
// a path on this site; the server decides).
"use strict";

(() => {
  const t = Huis.scope("central");
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const go = to => location.assign(to && to.startsWith("/") && !to.startsWith("//") ? to : "/");

  const own = document.getElementById("password-form");
  if (own) {
    own.addEventListener("submit", async ev => {
      ev.preventDefault();
      const problem = document.getElementById("password-error");
      problem.textContent = "";
      if (own.new.value !== own.again.value) {
        problem.textContent = t("password_mismatch");
        own.again.focus();
        return;
      }
      try {
        const data = await Huis.api("POST", "/api/password", { current: own.current.value, new: own.new.value });
        go(data.go);
      } catch (e) {
        if (e.status === 401) location.assign("/login?next=/password");
        problem.textContent = e.message;
      }
    });
  }
  if (!form) return;

  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const data = await Huis.api("POST", "/api/login", {
        username: form.username.value.trim(), password: form.password.value,
        next: new URLSearchParams(location.search).get("next") });
      go(data.go);  // the server already checked it; a path on this site, never another host
    } catch (e) {
      error.textContent = e.status === 401 || !e.message ? t("login_wrong") : e.message;
      form.password.value = "";
      form.password.focus();
    } finally {
      button.disabled = false;
    }
  });
})();
