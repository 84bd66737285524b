// regkb page behaviour, no inline scripts (the CSP forbids them): copy with citation, filter helpers.
"use strict";
(function () {
  function fallbackCopy(text) {
    // For browsers without the async clipboard API (or pages not in a secure context).
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function feedback(button, message, ok) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = message;
    button.classList.toggle("done", ok);
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("done");
    }, 2000);
  }

  function copy(button) {
    var text = button.dataset.copy || "";
    var viaApi = navigator.clipboard && window.isSecureContext
      ? navigator.clipboard.writeText(text)
      : Promise.reject(new Error("no clipboard API"));
    viaApi.then(function () { return true; }, function () { return fallbackCopy(text); })
      .then(function (ok) { feedback(button, ok ? "コピーしました" : "コピーできませんでした", ok); });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (button) { copy(button); }
  });

  // Document page: choosing an edition shows it at once.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // Search form: the 版 list holds the chosen document's own editions (data-editions: [[edition, label], …]);
  // with every document chosen there is no edition to pick, only the latest of each.
  var docSelect = document.getElementById("doc");
  var editionSelect = document.getElementById("edition");
  function syncEditions() {
    if (!docSelect || !editionSelect) { return; }
    var chosen = docSelect.options[docSelect.selectedIndex];
    var editions = [];
    try { editions = chosen && chosen.dataset.editions ? JSON.parse(chosen.dataset.editions) : []; } catch (e) { editions = []; }
    var keep = editionSelect.value;
    while (editionSelect.options.length > 1) { editionSelect.remove(1); }
    editions.forEach(function (pair) {
      var option = document.createElement("option");
      option.value = String(pair[0]);
      option.textContent = pair[1];
      editionSelect.appendChild(option);
    });
    editionSelect.value = editions.some(function (pair) { return String(pair[0]) === keep; }) ? keep : "";
    editionSelect.disabled = editions.length === 0;
  }
  if (docSelect) { docSelect.addEventListener("change", syncEditions); syncEditions(); }

  // After a search, keyboard and screen-reader users start at the results, not at the top of the page.
  var resultsHeading = document.getElementById("results-heading");
  if (resultsHeading) { resultsHeading.focus(); }
})();
