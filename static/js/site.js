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
  document.addEventListener("form-restored", showFollowUps);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showFollowUps);
  } else {
    showFollowUps();
  }
})();

// The application form a step at a time. Without JavaScript it is one long page; with it,
// the sections come in steps ("Step 2 of 5"), "Next" asks the server to check the step (the
// same rules as sending the form) and moves on only when nothing needs fixing, and "Back"
// keeps every answer (they all stay in this one page). The step is in the address (#step-3).
(function () {
  var form = document.querySelector("form.application-form[data-steps]");
  if (!form || !window.fetch) { return; }
  var total = parseInt(form.getAttribute("data-steps"), 10);
  var progress = form.querySelector(".form-progress");
  var title = progress.querySelector(".form-progress__title");
  var titles = title.getAttribute("data-step-titles").split("|");
  var nav = form.querySelector(".step-nav");
  var back = nav.querySelector("[data-step-back]");
  var next = nav.querySelector("[data-step-next]");
  var trouble = nav.querySelector(".step-nav__trouble");
  var actions = form.querySelector(".form-actions");
  var parts = document.querySelector(".form-sections");
  var current = 1;

  function stepOf(element) {
    var section = element && element.closest(".form-section[data-step]");
    return section ? parseInt(section.getAttribute("data-step"), 10) : null;
  }

  function show(step, moveFocus) {
    current = step;
    var sections = form.querySelectorAll(".form-section[data-step]");
    for (var i = 0; i < sections.length; i++) {
      sections[i].hidden = stepOf(sections[i]) !== step;
    }
    title.textContent = "Step " + step + " of " + total + ": " + titles[step - 1];
    progress.querySelector("progress").value = step;
    back.hidden = step === 1;
    next.hidden = step === total;
    actions.hidden = step !== total;
    trouble.hidden = true;
    if (window.history && history.replaceState) { history.replaceState(null, "", "#step-" + step); }
    if (moveFocus) {
      title.focus();
      progress.scrollIntoView({block: "start"});
    }
  }

  function checkStep() {
    next.setAttribute("aria-disabled", "true");
    var url = form.getAttribute("action").split("?")[0] + "/validate?step=" + current;
    fetch(url, {method: "POST", body: new FormData(form), headers: {"HX-Request": "true"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.text();
      })
      .then(function (html) {
        var answer = document.createElement("template");
        answer.innerHTML = html;
        var fields = answer.content.querySelectorAll(".field[id]");
        for (var i = 0; i < fields.length; i++) {
          var old = document.getElementById(fields[i].id);
          if (old) {
            old.replaceWith(fields[i]);
            htmx.process(fields[i]);
          }
        }
        var said = answer.content.getElementById("form-announcer");
        document.getElementById("form-announcer").textContent = said ? said.textContent : "";
        var wrong = form.querySelector(".form-section:not([hidden]) [aria-invalid=true]");
        if (wrong) {
          wrong.focus();
        } else {
          show(current + 1, true);
        }
        document.dispatchEvent(new CustomEvent("form-step-checked"));
      })
      .catch(function () { trouble.hidden = false; })
      .then(function () { next.removeAttribute("aria-disabled"); });
  }

  next.addEventListener("click", function () {
    if (next.getAttribute("aria-disabled") !== "true") { checkStep(); }
  });
  back.addEventListener("click", function () { show(current - 1, true); });
  // Enter in a text box moves to the next step rather than sending an unfinished form.
  form.addEventListener("submit", function (event) {
    var saving = event.submitter && event.submitter.hasAttribute("data-save-draft");
    if (current < total && !saving) {
      event.preventDefault();
      checkStep();
    }
  });
  // A link in the list of things to fix opens the step its question is in.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".error-summary a[href^='#']");
    var target = link && document.getElementById(link.getAttribute("href").slice(1));
    if (target && stepOf(target)) { show(stepOf(target), false); }
  });

  form.classList.add("application-form--stepped");
  progress.hidden = false;
  nav.hidden = false;
  if (parts) { parts.hidden = true; }
  var firstWrong = form.querySelector(".field--error");
  var asked = /^#step-(\d)$/.exec(window.location.hash);
  var start = firstWrong ? stepOf(firstWrong) : (asked ? parseInt(asked[1], 10) : 1);
  show(start >= 1 && start <= total ? start : 1, false);
})();

// What is typed in the application form is kept in this browser tab (sessionStorage: gone
// when the tab closes, never sent anywhere) until the form is sent, so a reload or a lost
// connection loses nothing. A page the server sent back with answers in it (a form with
// something to fix) is the truth and is not overwritten.
(function () {
  var KEY = "resilience:application";
  var storage;
  try { storage = window.sessionStorage; storage.getItem(KEY); } catch (error) { return; }
  if (document.querySelector("[data-form-sent]")) { storage.removeItem(KEY); return; }
  var form = document.querySelector("form.application-form");
  if (!form) { return; }
  document.querySelector(".kept-in-tab").hidden = false;

  function controls() {
    return Array.prototype.filter.call(form.elements, function (control) {
      return control.name && control.name !== "csrf_token" && control.type !== "submit" && control.type !== "button";
    });
  }

  function save() {
    var answers = {};
    controls().forEach(function (control) {
      if (control.type === "radio") {
        if (control.checked) { answers[control.name] = control.value; }
      } else if (control.type === "checkbox") {
        answers[control.name] = control.checked;
      } else {
        answers[control.name] = control.value;
      }
    });
    try { storage.setItem(KEY, JSON.stringify(answers)); } catch (error) { /* full or refused: nothing kept */ }
  }

  function restore(answers) {
    var restored = false;
    // A box ticked beside words the clinicians have changed since is not ticked again.
    var words = form.querySelector("input[name=agreement_words]");
    var sameWords = !words || answers.agreement_words === words.value;
    controls().forEach(function (control) {
      if (!Object.prototype.hasOwnProperty.call(answers, control.name)) { return; }
      var kept = answers[control.name];
      if (control.type === "radio") {
        var picked = form.querySelector("input[name='" + control.name + "']:checked");
        if (!picked && control.value === kept) { control.checked = restored = true; }
      } else if (control.type === "checkbox") {
        if (!control.checked && kept === true && sameWords) { control.checked = restored = true; }
      } else if (control.type === "hidden") {
        if (control.name === "submission_id" && kept) { control.value = kept; }  // a resend is still one application
      } else if (!control.value && typeof kept === "string" && kept) {
        control.value = kept;
        restored = true;
      }
    });
    return restored;
  }

  var kept = null;
  try { kept = JSON.parse(storage.getItem(KEY) || "null"); } catch (error) { kept = null; }
  var sentBack = document.querySelector(".error-summary");
  if (kept && !sentBack && restore(kept)) {
    form.querySelector(".form-restored").hidden = false;
    document.dispatchEvent(new CustomEvent("form-restored"));
    var cohort = form.querySelector("input[name=cohort]:checked");
    if (cohort) { cohort.dispatchEvent(new Event("change", {bubbles: true})); }
  }
  var pending = null;
  function saveSoon() {
    clearTimeout(pending);
    pending = setTimeout(save, 300);
  }
  form.addEventListener("input", saveSoon);
  form.addEventListener("change", saveSoon);
  window.addEventListener("pagehide", save);
  // Sending: what is typed is kept (in case the connection fails), and nothing is saved as the
  // page goes, so the confirmation page can remove it.
  form.addEventListener("submit", function (event) {
    if (event.defaultPrevented) { return; }
    clearTimeout(pending);
    save();
    window.removeEventListener("pagehide", save);
  });
  save();

  form.querySelector("[data-form-start-again]").addEventListener("click", function () {
    window.removeEventListener("pagehide", save);
    form.removeEventListener("input", saveSoon);
    form.removeEventListener("change", saveSoon);
    clearTimeout(pending);
    storage.removeItem(KEY);
    form.reset();
    window.location.replace(window.location.pathname + window.location.search);
  });
})();
