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
