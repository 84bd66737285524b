// Saved helpdesk answers: the 「この回答を保存」 button on search results and the review form on 「要確認の回答」.
// No inline scripts (the CSP forbids them). Writes need the helpdesk token; it is kept in sessionStorage only.
"use strict";
(function () {
  var KEY = "regkb-helpdesk-token";
  var tokenInput = document.getElementById("helpdesk-token");

  function storedToken() {
    try { return window.sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }
  function storeToken(value) {
    try {
      if (value) { window.sessionStorage.setItem(KEY, value); } else { window.sessionStorage.removeItem(KEY); }
    } catch (e) { /* storage off: ask again next time */ }
  }
  function token() {
    var value = (tokenInput && tokenInput.value.trim()) || storedToken();
    if (!value) {
      value = (window.prompt("ヘルプデスク用トークンを入力してください") || "").trim();
    }
    if (value) { storeToken(value); }
    return value;
  }
  if (tokenInput) {
    tokenInput.value = storedToken();
    tokenInput.addEventListener("change", function () { storeToken(tokenInput.value.trim()); });
  }

  function send(method, url, body) {
    var value = token();
    if (!value) { return Promise.reject(new Error("トークンが入力されていません")); }
    return fetch(url, {
      method: method,
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Authorization": "Bearer " + value },
      body: JSON.stringify(body),
      credentials: "same-origin"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) { return data; }
        if (response.status === 401 || response.status === 403) {
          storeToken("");
          if (tokenInput) { tokenInput.value = ""; }
        }
        var err = (data && data.error) || {};
        var message = response.status === 401 ? "トークンが違います"
          : response.status === 403 ? "回答の保存はこのサーバーでは無効です"
          : (err.message || ("エラー " + response.status));
        throw new Error(message);
      });
    });
  }

  function show(el, message, ok) {
    if (!el) { return; }
    el.textContent = message;
    el.classList.toggle("error", !ok);
  }

  // Search results: save the shown answer with its citation.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-save-answer]");
    if (!button) { return; }
    var d = button.dataset;
    var status = button.parentNode.querySelector(".save-status");
    var citation = { doc: d.doc, section: d.section };
    if (d.edition) { citation.edition = parseInt(d.edition, 10); }
    button.disabled = true;
    send("POST", "/answers", { question: d.question || "", answer: d.answer || "", citations: [citation] })
      .then(function (saved) {
        button.classList.add("done");
        button.textContent = "保存しました";
        show(status, "回答 #" + saved.id, true);
      }, function (err) {
        button.disabled = false;
        show(status, "保存できませんでした：" + err.message, false);
      });
  });

  // 「要確認の回答」: mark reviewed, sending the text only when it was edited.
  document.querySelectorAll("form.review-form").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var area = form.querySelector("textarea[name=answer]");
      var status = form.querySelector(".review-status");
      var body = {};
      if (area && area.value.trim() !== (area.dataset.original || "").trim()) { body.answer = area.value; }
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      send("POST", "/answers/" + encodeURIComponent(form.dataset.answerId) + "/review", body)
        .then(function () {
          show(status, "確認済みにしました", true);
          var item = form.closest(".saved-answer");
          if (item) { item.classList.add("reviewed"); }
        }, function (err) {
          button.disabled = false;
          show(status, "保存できませんでした：" + err.message, false);
        });
    });
  });
})();
