// Cookie consent without a page reload. Without JavaScript the same form posts and the
// server redirects back; this script only upgrades it.
(function () {
  "use strict";

  function banner() {
    return document.querySelector("[data-consent-banner]");
  }

  function showDetails(root) {
    var details = root.querySelector("[data-consent-details]");
    var save = root.querySelector("[data-consent-save]");
    if (details) details.hidden = false;
    if (save) save.hidden = false;
  }

  function submit(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    return fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error("consent " + response.status);
      return response.json();
    });
  }

  function wire(root) {
    var form = root.querySelector("form");
    var settingsLink = root.querySelector("[data-consent-settings]");
    if (settingsLink) {
      settingsLink.addEventListener("click", function (event) {
        event.preventDefault();
        showDetails(root);
        settingsLink.hidden = true;
      });
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit(form, event.submitter).then(function (consent) {
        root.hidden = true;
        document.dispatchEvent(new CustomEvent("litfass:consent", { detail: consent }));
      }).catch(function () {
        // Fall back to the plain form post; submit() drops the pressed button's value.
        if (event.submitter && event.submitter.name) {
          var choice = document.createElement("input");
          choice.type = "hidden";
          choice.name = event.submitter.name;
          choice.value = event.submitter.value;
          form.appendChild(choice);
        }
        form.submit();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = banner();
    if (root) wire(root);
    document.querySelectorAll("[data-consent-open]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var current = banner();
        if (!current) return; // no banner on this page: the settings page handles it
        event.preventDefault();
        current.hidden = false;
        showDetails(current);
      });
    });
  });
})();
