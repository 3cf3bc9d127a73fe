/* Hostwright — progressive enhancements. No dependencies; loaded with `defer`.
 * CSP forbids inline scripts/handlers, so everything is wired up here. */
(function () {
  "use strict";

  var KEY = "hw-theme";
  var root = document.documentElement;
  var darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  root.classList.add("js");

  function storedTheme() {
    try {
      var v = window.localStorage.getItem(KEY);
      return v === "light" || v === "dark" ? v : null;
    } catch (e) {
      return null;
    }
  }

  function effectiveTheme() {
    var t = root.dataset.theme;
    if (t === "light" || t === "dark") return t;
    return darkQuery && darkQuery.matches ? "dark" : "light";
  }

  function syncToggles() {
    var dark = effectiveTheme() === "dark";
    var buttons = document.querySelectorAll("button[data-theme-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-pressed", dark ? "true" : "false");
      buttons[i].hidden = false;
    }
  }

  // Apply the saved theme as early as possible (top level, before DOM ready).
  var saved = storedTheme();
  if (saved) root.dataset.theme = saved;

  function toggleTheme() {
    var next = effectiveTheme() === "dark" ? "light" : "dark";
    root.dataset.theme = next;
    try {
      window.localStorage.setItem(KEY, next);
    } catch (e) {
      /* storage unavailable: the choice lasts for this page only */
    }
    syncToggles();
  }

  function setNavOpen(open) {
    document.body.classList.toggle("nav-open", open);
    var buttons = document.querySelectorAll("button[data-nav-toggle]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute("aria-expanded", open ? "true" : "false");
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;

    var themeBtn = target.closest("button[data-theme-toggle]");
    if (themeBtn) {
      event.preventDefault();
      toggleTheme();
      return;
    }

    var navBtn = target.closest("button[data-nav-toggle]");
    if (navBtn) {
      event.preventDefault();
      setNavOpen(!document.body.classList.contains("nav-open"));
      return;
    }

    // Confirmation on buttons/links (a form's own data-confirm is handled on submit).
    var confirmEl = target.closest("[data-confirm]");
    if (confirmEl && confirmEl.tagName !== "FORM") {
      if (!window.confirm(confirmEl.getAttribute("data-confirm") || "Are you sure?")) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    }
  }, true);

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    // If the submitting button carried its own data-confirm, it already asked.
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-confirm")) return;
    if (!window.confirm(form.getAttribute("data-confirm") || "Are you sure?")) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.body && document.body.classList.contains("nav-open")) {
      setNavOpen(false);
      var btn = document.querySelector("button[data-nav-toggle]");
      if (btn) btn.focus();
    }
  });

  if (darkQuery) {
    var onSchemeChange = function () { syncToggles(); };
    if (darkQuery.addEventListener) darkQuery.addEventListener("change", onSchemeChange);
    else if (darkQuery.addListener) darkQuery.addListener(onSchemeChange);
  }

  // Follow theme changes made in another tab.
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY) return;
    var v = storedTheme();
    if (v) root.dataset.theme = v;
    else delete root.dataset.theme;
    syncToggles();
  });

  // The order form notes what each choice costs per billing cycle; show the chosen cycle's.
  function showCyclePrices(cycle) {
    var notes = document.querySelectorAll("[data-cycle]");
    for (var i = 0; i < notes.length; i++) {
      notes[i].hidden = notes[i].getAttribute("data-cycle") !== cycle;
    }
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input instanceof HTMLInputElement && input.name === "cycle" && input.type === "radio" && input.checked) {
      showCyclePrices(input.value);
    }
  });

  function ready() {
    syncToggles();
    setNavOpen(document.body.classList.contains("nav-open"));
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
