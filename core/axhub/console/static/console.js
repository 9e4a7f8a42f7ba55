// The console's only script, served by the hub (the CSP allows no other origin and no
// inline code). Every page works without it except the live progress bar.
"use strict";

// The OAuth return page posts code and state on to the console at once.
document.querySelectorAll("form[data-autosubmit]").forEach((form) => form.requestSubmit());

// A destructive form asks first.
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});

// The history as the server renders it now, in place of the one the page was loaded with.
async function refreshHistory() {
  const current = document.getElementById("history");
  if (!current) return;
  try {
    const answer = await fetch(location.href, { credentials: "same-origin" });
    const fresh = new DOMParser().parseFromString(await answer.text(), "text/html").getElementById("history");
    if (fresh) current.replaceWith(fresh);
  } catch (error) {
    // The old history stays; reloading the page shows the new one.
  }
}

// The sync progress bar, fed by the run's status (GET …/runs/{id}, as …/sync/{id}/status).
const STAGE = { started: 10, running: 50, completed: 100, partial: 100, failed: 100 };
document.querySelectorAll("[data-status-url]").forEach((box) => {
  const bar = box.querySelector("progress");
  const label = box.querySelector(".run-status");
  const figures = box.querySelector(".run-figures");
  const poll = async () => {
    let run;
    try {
      const answer = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!answer.ok) throw new Error(`status ${answer.status}`);
      run = await answer.json();
    } catch (error) {
      label.textContent = `status unavailable (${error.message}); retrying`;
      setTimeout(poll, 2000);
      return;
    }
    const value = STAGE[run.status] ?? 50;
    bar.value = value;
    bar.textContent = `${value}%`;
    label.textContent = run.status;
    if (!["completed", "partial", "failed"].includes(run.status)) box.dataset.runStatus = run.status;
    const s = run.statistics || {};
    figures.textContent = `${s.eventsProcessed ?? 0} events processed` + (run.duration ? ` in ${run.duration}` : "")
      + ((run.errors || []).length ? `, ${run.errors.length} errors` : "");
    if (["completed", "partial", "failed"].includes(run.status)) {
      await refreshHistory();
      box.classList.add(`done-${run.status}`);
      box.dataset.runStatus = run.status; // set last: the history below already shows the run
      return;
    }
    setTimeout(poll, 400);
  };
  poll();
});
