// wxpay-emulator dashboard: small progressive enhancements; every page works without this file.
"use strict";

// Live updates: subscribe to the server-sent event stream at `url` and call `onEvent(type, data)` for
// each event (data parsed as JSON when it is JSON). Returns the EventSource, or null when the browser
// has none. One stream per page. base.html sets <body data-events-url="..."> when the app has an event stream
// (app.state.events_url); pages register handlers with wxpayDashboard.on(type, handler).
const wxpayDashboard = (() => {
  const handlers = {};
  let source = null;

  function dispatch(type, raw) {
    let data = raw;
    try { data = JSON.parse(raw); } catch (e) { /* plain text */ }
    for (const handler of (handlers[type] || []).concat(handlers["*"] || [])) handler(type, data);
  }

  function listen(type) {
    if (source && type !== "*" && type !== "message") {
      source.addEventListener(type, (event) => dispatch(type, event.data));
    }
  }

  // Call handler(type, data) for each event of `type` ("*": every type), whenever it is registered.
  function on(type, handler) {
    if (!handlers[type]) { handlers[type] = []; listen(type); }
    handlers[type].push(handler);
  }

  function subscribe(url) {
    if (source || !url || typeof EventSource === "undefined") return source;
    source = new EventSource(url);
    source.onmessage = (event) => dispatch("message", event.data);
    Object.keys(handlers).forEach(listen);
    return source;
  }

  function copyButtons() {
    for (const button of document.querySelectorAll("[data-copy]")) {
      button.addEventListener("click", () => {
        const pre = button.parentElement.querySelector("pre");
        if (pre && navigator.clipboard) {
          navigator.clipboard.writeText(pre.textContent).then(() => { button.textContent = "Copied"; });
        }
      });
    }
  }

  function confirmForms() {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    }
  }

  // Whether a journal entry passes a requests table's filters (data-mchid, data-family, data-status).
  function passes(filters, entry) {
    if (filters.mchid && entry.mchid !== filters.mchid) return false;
    if (filters.family && entry.family !== filters.family) return false;
    const wanted = (filters.status || "").toLowerCase();
    if (wanted) {
      const status = String(entry.status);
      if (/^[1-5]xx$/.test(wanted) ? status[0] !== wanted[0] : status !== wanted) return false;
    }
    return true;
  }

  // A requests table marked data-live="requests" takes each new journal entry as a row, rendered by
  // the server (/dashboard/requests/ID/row), in id order, newest first.
  function liveRequests() {
    const body = document.querySelector('tbody[data-live="requests"]');
    if (!body) return;
    on("request", (type, entry) => {
      if (!entry || typeof entry.id !== "number" || !passes(body.dataset, entry)) return;
      const selector = `tr[data-id="${entry.id}"]`;
      if (body.querySelector(selector)) return;
      fetch(`/dashboard/requests/${entry.id}/row`, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : null))
        .then((html) => {
          if (!html || body.querySelector(selector)) return;
          const holder = document.createElement("tbody");
          holder.innerHTML = html.trim();
          const row = holder.querySelector("tr");
          if (!row) return;
          for (const empty of body.querySelectorAll("tr.empty-row")) empty.remove();
          let before = null;
          for (const other of body.querySelectorAll("tr[data-id]")) {
            if (Number(other.dataset.id) < entry.id) { before = other; break; }
          }
          body.insertBefore(row, before);
          row.classList.add("fresh");
        })
        .catch(() => { /* the next event tries again for its own row */ });
    });
  }

  // A notification page's attempts (data-live-attempts="NOTIFICATION_ID") are reloaded from
  // /dashboard/notifications/ID/attempts on each delivery attempt of that notification.
  function liveAttempts() {
    const box = document.querySelector("[data-live-attempts]");
    if (!box) return;
    const id = box.dataset.liveAttempts;
    on("delivery", (type, attempt) => {
      if (!attempt || attempt.notification_id !== id) return;
      fetch(`/dashboard/notifications/${encodeURIComponent(id)}/attempts`, { credentials: "same-origin" })
        .then((response) => (response.ok ? response.text() : null))
        .then((html) => {
          if (html === null) return;
          box.innerHTML = html;
          box.dataset.attempts = String(box.querySelectorAll("details.attempt").length);
        })
        .catch(() => { /* the next attempt reloads it */ });
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    copyButtons();
    confirmForms();
    liveRequests();
    liveAttempts();
    // A live table names the event cursor its rows end at: the stream starts there, so nothing written
    // between the page's rendering and the stream's opening is missed.
    const live = document.querySelector("[data-live][data-after]");
    let url = document.body.dataset.eventsUrl;
    if (url && live) url += (url.includes("?") ? "&" : "?") + "after=" + encodeURIComponent(live.dataset.after);
    const stream = url ? subscribe(url) : null;
    if (stream) {
      // data-events-state: "open" once the stream is connected (tests wait for it), else "connecting"
      document.body.dataset.eventsState = "connecting";
      stream.addEventListener("open", () => { document.body.dataset.eventsState = "open"; });
      stream.addEventListener("error", () => { document.body.dataset.eventsState = "connecting"; });
    }
  });

  return { on, subscribe, dispatch };
})();
window.wxpayDashboard = wxpayDashboard;
