// Shared by every page: language, API calls with the CSRF header, and the live WebSocket.
"use strict";

const Huis = (() => {
  const strings = {
    nl: {
      lang_switch: "English", live: "Live", offline: "Geen verbinding met de hub; opnieuw verbinden…",
      connecting: "Verbinden…", login: "Inloggen", logout: "Uitloggen", tour: "Rondleiding",
      care: "Zorg", tech: "Technicus", devices: "Apparaten",
    },
    en: {
      lang_switch: "Nederlands", live: "Live", offline: "No connection to the hub; reconnecting…",
      connecting: "Connecting…", login: "Log in", logout: "Log out", tour: "Tour",
      care: "Care", tech: "Technician", devices: "Devices",
    },
  };
  let lang = localStorage.getItem("huis.lang") === "en" ? "en" : "nl";
  const langListeners = [];

  function t(key, vars) {
    let s = (strings[lang] && strings[lang][key]) ?? strings.nl[key] ?? key;
    for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll("{" + k + "}", v);
    return s;
  }

  function addStrings(more) {
    for (const l of Object.keys(more)) Object.assign(strings[l], more[l]);
  }

  function translatePage() {
    document.documentElement.lang = lang;
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
    for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
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

  return { t, addStrings, setLang, onLang, pick, api, ApiError, live, fmtTime, setTimeZone, fmtDateTime, el,
           translatePage, get lang() { return lang; } };
})();
