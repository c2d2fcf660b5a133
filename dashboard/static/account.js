// Login, first-run setup and the 403 page.
"use strict";

// Texts from the catalogue (controller/locale/*/LC_MESSAGES/huis.po), ids "account.*", then common.*.
const tAccount = Huis.scope("account");

// Only paths on this hub: never send someone elsewhere after login. Browsers read "//host",
// "/\\host" and a path with tabs or newlines in it as another site; those are refused.
function safeNext(next) {
  if (!next || next.length > 2000 || next[0] !== "/" || next[1] === "/" || next[1] === "\\") return null;
  if (/[\\\t\r\n]|%5c|%2f%2f/i.test(next)) return null;
  let u;
  try { u = new URL(next, location.origin); } catch (e) { return null; }
  return u.origin === location.origin ? u.pathname + u.search + u.hash : null;
}

function nextUrl(fallback) {
  return safeNext(new URLSearchParams(location.search).get("next")) || fallback;
}

const loginForm = document.getElementById("login-form");
if (loginForm) {
  Huis.api("GET", "/api/session").then(s => {
    document.getElementById("setup-hint").hidden = !s.setup_needed;
  }).catch(() => {});
  loginForm.addEventListener("submit", async ev => {
    ev.preventDefault();
    const err = document.getElementById("login-error");
    err.textContent = "";
    try {
      const r = await Huis.api("POST", "/api/login", {
        username: loginForm.username.value.trim(), password: loginForm.password.value });
      location.href = nextUrl(r.home);
    } catch (e) {
      if (e.status === 429) err.textContent = tAccount("too_many", { min: Math.ceil((e.body.retry_after || 60) / 60) });
      else if (e.status === 401) err.textContent = tAccount("wrong");
      else err.textContent = tAccount("failed", { msg: e.message });
      loginForm.password.value = "";
      loginForm.password.focus();
    }
  });
}

const setupForm = document.getElementById("setup-form");
if (setupForm) {
  setupForm.addEventListener("submit", async ev => {
    ev.preventDefault();
    const err = document.getElementById("setup-error");
    err.textContent = "";
    if (setupForm.password.value !== setupForm.password2.value) {
      err.textContent = tAccount("mismatch");
      return;
    }
    try {
      const r = await Huis.api("POST", "/api/setup", {
        username: setupForm.username.value.trim(), password: setupForm.password.value,
        display_name: setupForm.display_name.value.trim() || null });
      location.href = r.home;
    } catch (e) {
      err.textContent = tAccount("failed", { msg: e.message });
    }
  });
}

// The 403 page: say whose page this is, and, to someone logged in with another role, where
// their own page is (instead of "log in" again).
const forbidden = document.getElementById("forbidden-text");
if (forbidden) {
  const audience = forbidden.dataset.audience === "tech" ? "tech" : "care";
  const draw = s => {
    const user = s && s.user;
    forbidden.textContent = user ? tAccount(`forbidden_${audience}_as`, { role: tAccount(`role_${user.role}`) })
                                 : tAccount(`forbidden_${audience}`);
    const link = document.getElementById("login-link");
    if (user) { link.href = s.home; link.textContent = tAccount("your_page"); }
  };
  let session = null;
  draw(null);
  Huis.api("GET", "/api/session").then(s => { session = s; draw(s); }).catch(() => {});
  Huis.onLang(() => draw(session));
}
