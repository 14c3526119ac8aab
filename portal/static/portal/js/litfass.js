/*
 * litfass.js: counts viewable impressions of the promotions on a page.
 *
 * A slot is viewed when at least 50 % of its pixels (30 % for slots of 242,500 px and
 * more) are in view, in a visible tab, for one continuous second, as the MRC defines it
 * for display. Then one beacon goes to the slot's data-view-url; never a second one for
 * the same nonce. No dependencies, no cookies, nothing stored in the browser.
 *
 * Pages that insert slots later (from POST /api/v1/decisions) call
 * window.litfass.watch(container) afterwards.
 */
(function () {
  "use strict";

  var LARGE_SLOT_PIXELS = 242500;
  var DWELL_MS = 1000;

  if (!("IntersectionObserver" in window)) {
    return; // not measurable: no view is ever claimed
  }

  var states = new Map();

  function requiredShare(element) {
    var box = element.getBoundingClientRect();
    return box.width * box.height >= LARGE_SLOT_PIXELS ? 0.3 : 0.5;
  }

  function send(url) {
    if (navigator.sendBeacon && navigator.sendBeacon(url)) {
      return;
    }
    new Image().src = url;
  }

  function update(element) {
    var state = states.get(element);
    if (!state || state.sent) {
      return;
    }
    var viewable = state.share >= state.required && document.visibilityState === "visible";
    if (viewable && state.timer === null) {
      state.timer = window.setTimeout(function () {
        state.timer = null;
        state.sent = true;
        observer.unobserve(element);
        send(element.dataset.viewUrl);
      }, DWELL_MS);
    } else if (!viewable && state.timer !== null) {
      // The second must be continuous: leaving view or tab starts it over.
      window.clearTimeout(state.timer);
      state.timer = null;
    }
  }

  var observer = new IntersectionObserver(
    function (entries) {
      entries.forEach(function (entry) {
        var state = states.get(entry.target);
        if (state) {
          state.share = entry.isIntersecting ? entry.intersectionRatio : 0;
          update(entry.target);
        }
      });
    },
    { threshold: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] }
  );

  function watch(root) {
    (root || document).querySelectorAll(".slot[data-view-url]").forEach(function (element) {
      if (states.has(element)) {
        return;
      }
      states.set(element, { share: 0, required: requiredShare(element), timer: null, sent: false });
      observer.observe(element);
    });
  }

  document.addEventListener("visibilitychange", function () {
    states.forEach(function (_state, element) {
      update(element);
    });
  });

  window.litfass = { watch: watch };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { watch(); });
  } else {
    watch();
  }
})();
