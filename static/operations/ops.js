/* Operations pages: live job progress from the job's JSON endpoint (no inline scripts). */
(function () {
  "use strict";
  if (!window.fetch) { return; }
  var POLL_MS = 1000;

  function text(el, value) { if (el) { el.textContent = value; } }

  function list(el, entries) {
    if (!el) { return; }
    el.textContent = "";
    if (!entries.length) { var none = document.createElement("li"); none.textContent = el.getAttribute("data-empty") || "none"; el.appendChild(none); return; }
    entries.forEach(function (entry) { var li = document.createElement("li"); li.textContent = entry; el.appendChild(li); });
  }

  function pairs(object) {
    return Object.keys(object || {}).map(function (key) { return key + ": " + JSON.stringify(object[key]); });
  }

  function render(box, job) {
    var field = function (name) { return box.querySelector('[data-field="' + name + '"]'); };
    var bar = box.querySelector("progress");
    if (bar) {
      var total = job.total || 1;
      bar.max = total;
      bar.value = job.status === "succeeded" ? total : Math.min(job.done, total);
      bar.textContent = Number(job.percent).toFixed(1) + " %";
    }
    box.setAttribute("data-job-status", job.status);
    text(field("status"), job.status_text || job.status);
    text(field("phase"), job.phase);
    text(field("percent"), Number(job.percent).toFixed(1) + " %");
    text(field("done"), job.done);
    text(field("total"), job.total);
    text(field("rate"), job.rate);
    text(field("seconds_left"), job.seconds_left === null ? "" : (job.seconds_left_text || job.seconds_left + " s left"));
    var status = field("status");
    if (status) { status.className = "job-status job-status--" + job.status; }
    var cancel = box.querySelector(".job-cancel");
    if (cancel) { cancel.hidden = !job.active; }
    // Fields of the job page outside the progress box.
    var page = document;
    text(page.querySelector('[data-field="started_at"]'), job.started_at || "—");
    text(page.querySelector('[data-field="finished_at"]'), job.finished_at || "—");
    text(page.querySelector('[data-field="duration_seconds"]'), job.duration_seconds === null ? "—" : job.duration_seconds);
    text(page.querySelector('[data-field="worker"]'), job.worker || "—");
    var live = page.querySelector('[data-field="live_generation"]');
    if (job.live_generation !== undefined && live) { text(live, job.live_generation || live.getAttribute("data-empty") || "none yet"); }
    list(page.querySelector('[data-field="counts"]'), pairs(job.counts));
    list(page.querySelector('[data-field="result"]'), pairs(job.result));
    list(page.querySelector('[data-field="errors"]'), job.errors || []);
  }

  function poll(box) {
    var url = box.getAttribute("data-job-url");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (job) {
        render(box, job);
        if (job.active) { window.setTimeout(function () { poll(box); }, POLL_MS); }
      })
      .catch(function () { window.setTimeout(function () { poll(box); }, POLL_MS * 3); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-job-url]"), function (box) {
    var status = box.getAttribute("data-job-status");
    if (status === "queued" || status === "running") { poll(box); }
  });
})();
