// Shared by every page: language, API calls with the CSRF header, and the live WebSocket.
"use strict";

const Huis = (() => {
  // Every text comes from the hub's gettext catalogues (controller/locale/<lang>/LC_MESSAGES/huis.po),
  // which /i18n/catalogue.js sets as HUIS_CATALOGUE = {nl: {id: text}, en: {...}} before this script.
  // A plural is a list of forms: [one, other] for both Dutch and English.
  const catalogue = window.HUIS_CATALOGUE || { nl: {}, en: {} };
  let lang = localStorage.getItem("huis.lang") === "en" ? "en" : "nl";
  const langListeners = [];

  function fill(s, vars) {
    for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll("{" + k + "}", v);
    return s;
  }

  // The text of `id` ("tour.waiting") in the page's language; the id itself when missing.
  function text(id, vars) {
    const s = catalogue[lang][id];
    return s === undefined ? undefined : fill(Array.isArray(s) ? s[1] : s, vars);
  }

  // A page script's translator: t("waiting") looks up "tour.waiting", then the next scope,
  // then "common.waiting"; an unknown key comes back as itself (callers test for that).
  // t.n("phones", 2) picks the plural form for the count (also filled in as {n}).
  function scope(...scopes) {
    const order = [...scopes, "common"];
    function find(key) {
      if (key.includes(".")) return catalogue[lang][key];
      for (const s of order) { const v = catalogue[lang][s + "." + key]; if (v !== undefined) return v; }
      return undefined;
    }
    const t = (key, vars) => {
      const v = find(key);
      return v === undefined ? key : fill(Array.isArray(v) ? v[1] : v, vars);
    };
    // Dutch and English: one form for exactly 1, the other for every other count.
    t.n = (key, n, vars) => {
      const v = find(key);
      if (v === undefined) return key;
      return fill(Array.isArray(v) ? v[n === 1 ? 0 : 1] : v, { n, ...(vars || {}) });
    };
    return t;
  }

  const t = scope();

  // Only for a page script written before the catalogues (its {nl: {...}, en: {...}} texts become
  // "common.<key>"): move its texts into the .po files and drop the call.
  function addStrings(more) {
    for (const l of Object.keys(more)) {
      if (!catalogue[l]) continue;
      for (const [k, v] of Object.entries(more[l])) catalogue[l]["common." + k] ??= v;
    }
  }

  function translatePage() {
    document.documentElement.lang = lang;
    // The HTML names full ids ("tour.now_title"); its Dutch text is only what shows before this runs.
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    for (const el of document.querySelectorAll("[data-i18n-alt]")) el.setAttribute("alt", t(el.dataset.i18nAlt));
    for (const el of document.querySelectorAll(".lang-switch")) el.textContent = t("lang_switch");
  }

  function setLang(l) {
    lang = l === "en" ? "en" : "nl";
    localStorage.setItem("huis.lang", lang);
    translatePage();
    for (const fn of langListeners) fn(lang);
  }

  function onLang(fn) { langListeners.push(fn); }

  // Pick the text for the current language out of {nl: ..., en: ...}.
  function pick(obj) {
    if (obj == null) return "";
    if (typeof obj === "string") return obj;
    return obj[lang] ?? obj.nl ?? "";
  }

  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)huis_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  class ApiError extends Error {
    constructor(status, detail, body) { super(detail); this.status = status; this.body = body; }
  }

  async function api(method, url, body) {
    // Accept-Language: the hub answers refusals in the page's language, not the browser's.
    const opts = { method, headers: { "Accept": "application/json", "Accept-Language": lang }, credentials: "same-origin" };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const r = await fetch(url, opts);
    const text = await r.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
    if (!r.ok) {
      let detail = data && data.detail !== undefined ? data.detail : r.statusText;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
      throw new ApiError(r.status, detail, data);
    }
    return data;
  }

  // A WebSocket that reconnects with capped backoff and asks for a fresh snapshot each time
  // it connects, so a page never shows a picture with holes in it.
  function live(onMessage, onStatus, path = "/ws/live") {
    let ws = null;
    let delay = 500;
    let stopped = false;
    function connect() {
      onStatus && onStatus("connecting");
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      ws = new WebSocket(proto + "//" + location.host + path);
      ws.onopen = () => { delay = 500; onStatus && onStatus("live"); };
      ws.onmessage = ev => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        onMessage(msg);
      };
      ws.onclose = () => {
        onStatus && onStatus("offline");
        if (stopped) return;
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 5000);
      };
      ws.onerror = () => { try { ws.close(); } catch (e) { /* already closed */ } };
    }
    connect();
    return {
      resync() { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: "resync" })); },
      close() { stopped = true; if (ws) ws.close(); },
    };
  }

  // Times are shown in the home's time zone, whatever the viewing device's zone is.
  let timeZone = "Europe/Amsterdam";
  function setTimeZone(tz) { if (tz) timeZone = tz; }

  function fmtTime(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleTimeString(lang === "en" ? "en-GB" : "nl-NL",
      { hour: "2-digit", minute: "2-digit", timeZone });
  }

  function fmtDateTime(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "nl-NL",
      { dateStyle: "short", timeStyle: "medium", timeZone });
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // Names and descriptions written in the configuration (config/home.yaml, scenarios/) are Dutch,
  // whatever the page's language: marked so, a screen reader reads them as Dutch (and the
  // language test leaves them out).
  const CONFIG_LANG = "nl";
  function named(text) { return text ? el("span", { lang: CONFIG_LANG, text }) : ""; }

  function setupHeader() {
    for (const b of document.querySelectorAll(".lang-switch")) {
      b.addEventListener("click", () => setLang(lang === "nl" ? "en" : "nl"));
    }
    for (const b of document.querySelectorAll(".logout")) {
      b.addEventListener("click", async () => {
        try { await api("POST", "/api/logout"); } finally { location.href = "/"; }
      });
    }
    translatePage();
  }

  document.addEventListener("DOMContentLoaded", setupHeader);

  return { t, text, scope, named, addStrings, setLang, onLang, pick, api, ApiError, live, fmtTime, setTimeZone, fmtDateTime, el,
           translatePage, get lang() { return lang; } };
})();
