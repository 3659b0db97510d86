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

  document.addEventListener("DOMContentLoaded", () => {
    copyButtons();
    confirmForms();
    const url = document.body.dataset.eventsUrl;
    if (url) subscribe(url);
  });

  return { on, subscribe, dispatch };
})();
window.wxpayDashboard = wxpayDashboard;
