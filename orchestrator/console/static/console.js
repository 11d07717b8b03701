// Live updates for the Firebreak console. Pages work without this file; with it, the regions
// marked data-live are refreshed from the same page every few seconds and deadlines count down.
// Fresh regions are parsed with DOMParser (which never runs scripts) and moved in as nodes:
// no innerHTML, and nothing here builds markup from data.
"use strict";

(function () {
  var POLL_MS = 3000;

  function busy(region) {
    if (region.contains(document.activeElement) && document.activeElement !== document.body) {
      return true;
    }
    var fields = region.querySelectorAll("textarea, input[type=text]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value) {
        return true;
      }
    }
    return false;
  }

  function refresh() {
    if (document.hidden) {
      return Promise.resolve();
    }
    return fetch(window.location.href, {
      credentials: "same-origin",
      headers: { Accept: "text/html" },
      cache: "no-store",
    }).then(function (response) {
      if (response.redirected && new URL(response.url).pathname === "/console/login") {
        window.location.assign(response.url);
        return;
      }
      if (!response.ok) {
        return;
      }
      return response.text().then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (region) {
          var replacement = region.id && fresh.getElementById(region.id);
          if (replacement && !busy(region)) {
            region.replaceWith(document.importNode(replacement, true));
          }
        });
        countdown();
      });
    }).catch(function () {
      // The server is unreachable for now; the next poll tries again.
    });
  }

  function formatDuration(seconds) {
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + "s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + "m " + String(s % 60).padStart(2, "0") + "s";
    var h = Math.floor(m / 60);
    if (h < 24) return h + "h " + String(m % 60).padStart(2, "0") + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  function countdown() {
    document.querySelectorAll("time[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.dataset.deadline) - Date.now()) / 1000;
      el.textContent = left >= 0 ? "in " + formatDuration(left) : "overdue by " + formatDuration(-left);
      el.classList.toggle("overdue", left < 0);
    });
  }

  function schedule() {
    window.setTimeout(function () {
      refresh().then(schedule);
    }, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("live");
    if (document.querySelector("[data-live]")) {
      schedule();
    }
    countdown();
    window.setInterval(countdown, 1000);
  });
})();
