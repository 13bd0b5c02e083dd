// Lokal console: select a span by dragging across one day's hour cells of a week grid; the
// closure form below gets its dates and times, and the reason field gets focus. Keyboard and
// no-script users fill in the form itself.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("closure-form");
  if (!form) return;
  const hint = document.getElementById("drag-hint");
  if (hint) hint.hidden = false;
  const pad = (n) => String(n).padStart(2, "0");
  const nextDay = (date) => {
    const d = new Date(date + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  };
  let drag = null;

  const cellAt = (event) => {
    const el = document.elementFromPoint(event.clientX, event.clientY);
    const td = el && el.closest("td[data-date]");
    return td && drag && td.closest("table") === drag.table ? td : null;
  };
  const paint = () => {
    for (const td of drag.table.querySelectorAll("td.selecting")) td.classList.remove("selecting");
    const lo = Math.min(drag.from, drag.to);
    const hi = Math.max(drag.from, drag.to);
    for (const td of drag.table.querySelectorAll(`td[data-date="${drag.date}"]`)) {
      const h = Number(td.dataset.hour);
      if (h >= lo && h <= hi) td.classList.add("selecting");
    }
  };

  for (const table of document.querySelectorAll("table.week-grid")) {
    table.addEventListener("pointerdown", (event) => {
      const td = event.target.closest("td[data-date]");
      if (!td || event.button !== 0) return;
      event.preventDefault();
      const hour = Number(td.dataset.hour);
      drag = { table, date: td.dataset.date, from: hour, to: hour };
      table.classList.add("dragging");
      paint();
    });
    table.addEventListener("pointermove", (event) => {
      if (!drag || drag.table !== table) return;
      const td = cellAt(event);
      if (!td || td.dataset.date !== drag.date) return;
      drag.to = Number(td.dataset.hour);
      paint();
    });
  }

  document.addEventListener("pointerup", () => {
    if (!drag) return;
    const lo = Math.min(drag.from, drag.to);
    const hi = Math.max(drag.from, drag.to) + 1;
    form.elements.start_date.value = drag.date;
    form.elements.start_time.value = `${pad(lo)}:00`;
    form.elements.end_date.value = hi >= 24 ? nextDay(drag.date) : drag.date;
    form.elements.end_time.value = `${pad(hi % 24)}:00`;
    drag.table.classList.remove("dragging");
    drag = null;
    form.elements.reason.focus();
  });
  document.addEventListener("pointercancel", () => {
    if (!drag) return;
    for (const td of drag.table.querySelectorAll("td.selecting")) td.classList.remove("selecting");
    drag.table.classList.remove("dragging");
    drag = null;
  });
});
