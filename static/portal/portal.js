/* Progressive enhancement only: the pages work without this file. */
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form) { return; }

  // Filters apply as soon as they change (the "Apply filters" button stays for no-JS use).
  var filters = form.querySelector(".filters");
  if (filters) {
    filters.addEventListener("change", function (event) {
      if (event.target.matches('input[type="checkbox"]')) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
    });
  }

  // Suggestions as you type, from /suggest (MeSH terms and titles in the index).
  var input = document.getElementById("q");
  var list = document.getElementById("q-suggestions");
  if (!input || !list || !window.fetch) { return; }
  var timer = null, active = -1, items = [], lastAsked = "";

  function close() {
    list.hidden = true; list.innerHTML = ""; items = []; active = -1;
    input.setAttribute("aria-expanded", "false"); input.removeAttribute("aria-activedescendant");
  }
  function highlight(index) {
    items.forEach(function (item, i) { item.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (index >= 0) { input.setAttribute("aria-activedescendant", items[index].id); }
  }
  function choose(text) { input.value = text; close(); form.submit(); }
  function show(suggestions) {
    close();
    if (!suggestions.length) { return; }
    suggestions.forEach(function (text, i) {
      var li = document.createElement("li");
      li.id = "q-suggestion-" + i; li.setAttribute("role", "option"); li.textContent = text;
      li.addEventListener("mousedown", function (event) { event.preventDefault(); choose(text); });
      list.appendChild(li); items.push(li);
    });
    list.hidden = false; input.setAttribute("aria-expanded", "true");
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var prefix = input.value.trim();
    if (prefix.length < 2) { close(); return; }
    timer = setTimeout(function () {
      lastAsked = prefix;
      fetch(input.dataset.suggestUrl + "?q=" + encodeURIComponent(prefix), { headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : { suggestions: [] }; })
        .then(function (data) { if (lastAsked === input.value.trim()) { show(data.suggestions || []); } })
        .catch(close);
    }, 150);
  });
  input.addEventListener("keydown", function (event) {
    if (list.hidden) { return; }
    if (event.key === "ArrowDown") { event.preventDefault(); highlight(Math.min(active + 1, items.length - 1)); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight(Math.max(active - 1, -1)); }
    else if (event.key === "Enter" && active >= 0) { event.preventDefault(); choose(items[active].textContent); }
    else if (event.key === "Escape") { close(); }
  });
  input.addEventListener("blur", function () { setTimeout(close, 100); });
})();
