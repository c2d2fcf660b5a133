// Login, first-run setup and the 403 page.
"use strict";

Huis.addStrings({
  nl: {
    login_title: "Inloggen", login_intro: "Voor zorgverleners, technici en beheerders. Bezoekers hebben geen account nodig.",
    username: "Gebruikersnaam", password: "Wachtwoord", password_again: "Wachtwoord nogmaals",
    display_name: "Naam (optioneel)", back_to_tour: "Terug naar de rondleiding",
    setup_link: "Eerste keer: maak de beheerder aan", setup_title: "Eerste keer instellen",
    setup_intro: "Er is nog geen beheerder. Kies een gebruikersnaam en een sterk wachtwoord (minstens 10 tekens). Er bestaat geen standaardwachtwoord.",
    setup_submit: "Beheerder aanmaken", wrong: "Onjuiste gebruikersnaam of wachtwoord.",
    too_many: "Te veel mislukte pogingen. Probeer het over {min} minuten opnieuw.",
    mismatch: "De twee wachtwoorden zijn niet gelijk.", forbidden_title: "Geen toegang",
    forbidden_text: "Deze pagina is alleen voor zorgverleners en technici. Log in met uw eigen account.",
    forbidden_care: "Deze pagina is voor zorgverleners. Log in met het account van een zorgverlener.",
    forbidden_tech: "Deze pagina is voor technici en beheerders. Log in met het account van een technicus.",
    forbidden_care_as: "U bent ingelogd als {role}: deze pagina is voor zorgverleners. Uw eigen pagina staat hieronder.",
    forbidden_tech_as: "U bent ingelogd als {role}: deze pagina is voor technici en beheerders. Uw eigen pagina staat hieronder.",
    your_page: "Naar mijn pagina", role_caregiver: "zorgverlener", role_technician: "technicus", role_admin: "beheerder",
    failed: "Dat lukte niet: {msg}",
  },
  en: {
    login_title: "Log in", login_intro: "For caregivers, technicians and administrators. Visitors need no account.",
    username: "User name", password: "Password", password_again: "Password again",
    display_name: "Name (optional)", back_to_tour: "Back to the tour",
    setup_link: "First time: create the administrator", setup_title: "First-time setup",
    setup_intro: "There is no administrator yet. Choose a user name and a strong password (at least 10 characters). There is no default password.",
    setup_submit: "Create administrator", wrong: "Wrong user name or password.",
    too_many: "Too many failed attempts. Try again in {min} minutes.",
    mismatch: "The two passwords differ.", forbidden_title: "No access",
    forbidden_text: "This page is for caregivers and technicians only. Log in with your own account.",
    forbidden_care: "This page is for caregivers. Log in with a caregiver's account.",
    forbidden_tech: "This page is for technicians and administrators. Log in with a technician's account.",
    forbidden_care_as: "You are logged in as {role}: this page is for caregivers. Your own page is below.",
    forbidden_tech_as: "You are logged in as {role}: this page is for technicians and administrators. Your own page is below.",
    your_page: "To my page", role_caregiver: "caregiver", role_technician: "technician", role_admin: "administrator",
    failed: "That did not work: {msg}",
  },
});

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
      if (e.status === 429) err.textContent = Huis.t("too_many", { min: Math.ceil((e.body.retry_after || 60) / 60) });
      else if (e.status === 401) err.textContent = Huis.t("wrong");
      else err.textContent = Huis.t("failed", { msg: e.message });
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
      err.textContent = Huis.t("mismatch");
      return;
    }
    try {
      const r = await Huis.api("POST", "/api/setup", {
        username: setupForm.username.value.trim(), password: setupForm.password.value,
        display_name: setupForm.display_name.value.trim() || null });
      location.href = r.home;
    } catch (e) {
      err.textContent = Huis.t("failed", { msg: e.message });
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
    forbidden.textContent = user ? Huis.t(`forbidden_${audience}_as`, { role: Huis.t(`role_${user.role}`) })
                                 : Huis.t(`forbidden_${audience}`);
    const link = document.getElementById("login-link");
    if (user) { link.href = s.home; link.textContent = Huis.t("your_page"); }
  };
  let session = null;
  draw(null);
  Huis.api("GET", "/api/session").then(s => { session = s; draw(s); }).catch(() => {});
  Huis.onLang(() => draw(session));
}
