// Service worker for the caregiver app: the page shell works offline, data never comes from cache.
"use strict";
const CACHE = "huis-care-v1";
const SHELL = ["/zorg", "/static/common.css", "/static/common.js", "/static/care.js",
               "/static/icon.svg", "/static/icon-192.png", "/manifest.webmanifest"];

self.addEventListener("install", ev => {
  ev.waitUntil(caches.open(CACHE).then(c => c.addAll(SHELL)).catch(() => undefined).then(() => self.skipWaiting()));
});

self.addEventListener("activate", ev => {
  ev.waitUntil(caches.keys().then(keys => Promise.all(keys.filter(k => k !== CACHE).map(k => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", ev => {
  const url = new URL(ev.request.url);
  if (ev.request.method !== "GET" || url.origin !== location.origin) return;
  // Alerts and timelines must be live: never answer the API or the live socket from a cache.
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/ws/")) return;
  if (!SHELL.includes(url.pathname)) return;
  // Network first, so a new version shows at once; the cache only helps without a network.
  ev.respondWith(fetch(ev.request).then(r => {
    if (r.ok) { const copy = r.clone(); caches.open(CACHE).then(c => c.put(ev.request, copy)); }
    return r;
  }).catch(() => caches.match(ev.request)));
});
