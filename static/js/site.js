// Small enhancements on top of htmx. The site works without this file.

// Inline validation answers arrive a moment after the person leaves a field. If they
// have typed more in that field since, the answer is about an older value: drop it,
// keep what they typed, and check the newer value instead.
document.addEventListener("htmx:beforeSwap", function (event) {
  var field = event.detail.target;
  var sent = event.detail.requestConfig && event.detail.requestConfig.parameters;
  if (!field || !field.classList.contains("field") || !sent || typeof sent.get !== "function") {
    return;
  }
  var inputs = field.querySelectorAll("input[type=text], input[type=email], input[type=tel], textarea");
  for (var i = 0; i < inputs.length; i++) {
    var value = sent.get(inputs[i].name);
    if (value !== null && value !== inputs[i].value) {
      event.detail.shouldSwap = false;
      htmx.trigger(field, "change");
      return;
    }
  }
});

// Decisions ask first. With htmx the confirmation is loaded into an empty <dialog>: open
// it as a modal (focus stays inside; Escape closes it), close it when the decision is made
// or cancelled, and give focus back to the button that opened it (or, when that button
// was replaced by the decision's outcome, to the outcome).
(function () {
  var opener = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.tagName === "DIALOG" && !target.open) {
      opener = document.activeElement;
    }
  });
  // After settling: by then htmx has wired up the new content's forms.
  document.addEventListener("htmx:afterSettle", function (event) {
    var dialog = event.detail.target;
    if (dialog && dialog.tagName === "DIALOG" && !dialog.open) {
      dialog.showModal();
      var first = dialog.querySelector("[autofocus]");
      if (first) { first.focus(); }
    }
  });
  function closeDialogs() {
    var open = document.querySelectorAll("dialog[open]");
    for (var i = 0; i < open.length; i++) { open[i].close(); }
  }
  document.addEventListener("decision-made", closeDialogs);
  document.addEventListener("click", function (event) {
    var cancel = event.target.closest && event.target.closest("[data-close-dialog]");
    if (cancel && cancel.closest("dialog")) {
      event.preventDefault();
      cancel.closest("dialog").close();
    }
  });
  document.addEventListener("close", function (event) {
    if (event.target.tagName !== "DIALOG") { return; }
    if (opener && document.body.contains(opener)) {
      opener.focus();
    }
    opener = null;
  }, true);
})();

// Attendance: the sign-in sheet's Print button. It is hidden in the page (without
// JavaScript it could do nothing; the browser's own Print command works either way).
(function () {
  function showPrintButtons() {
    var buttons = document.querySelectorAll("button[data-print]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].hidden = false;
    }
  }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("button[data-print]")) {
      window.print();
    }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showPrintButtons);
  } else {
    showPrintButtons();
  }
})();

// The cohort beside the form follows the cohort picked on it (without JavaScript the page
// shows the cohort it was opened for).
document.addEventListener("change", function (event) {
  if (event.target.name !== "cohort" || event.target.type !== "radio") { return; }
  var asides = document.querySelectorAll("aside.chosen-cohort[data-cohort]");
  for (var i = 0; i < asides.length; i++) {
    asides[i].hidden = asides[i].getAttribute("data-cohort") !== event.target.value;
  }
});

// Follow-up questions: the few words a "Yes" or "Not sure" asks for appear only after such
// an answer (without JavaScript they are always shown, saying when to answer them).
(function () {
  function showFollowUps() {
    var followUps = document.querySelectorAll(".follow-up[data-follows]");
    for (var i = 0; i < followUps.length; i++) {
      var box = followUps[i];
      var picked = document.querySelector("input[name='" + box.getAttribute("data-follows") + "']:checked");
      box.hidden = !picked || box.getAttribute("data-when").split(" ").indexOf(picked.value) === -1;
    }
  }
  document.addEventListener("change", function (event) {
    if (event.target.type === "radio") { showFollowUps(); }
  });
  document.addEventListener("htmx:afterSettle", showFollowUps);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showFollowUps);
  } else {
    showFollowUps();
  }
})();
