// Lokal's progressive enhancements. Every flow works without this file.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Move focus to an error summary so screen readers announce it.
  const summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
  // A form is sent once: a second click while it is on its way does nothing (the server's
  // idempotency key covers what gets through anyway).
  for (const form of document.querySelectorAll("form[method=post]")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sending === "1") {
        event.preventDefault();
        return;
      }
      form.dataset.sending = "1";
      setTimeout(() => { form.dataset.sending = ""; }, 5000);
    });
  }
});
