// Live refresh for the console: poll the JSON endpoints and update the page in place.
"use strict";

function showTimes(root) {
  root.querySelectorAll("[data-time]").forEach(function (el) {
    var t = parseFloat(el.dataset.time);
    if (!isNaN(t)) { el.textContent = new Date(t * 1000).toLocaleString(); }
  });
}

function fillRow(el, task) {
  var state = el.querySelector('[data-field="state"]');
  if (state) { state.textContent = task.state; state.className = "state state-" + task.state; }
  var node = el.querySelector('[data-field="node"]');
  if (node) { node.textContent = task.node || "\u2014"; }
  var bar = el.querySelector('[data-field="progress"]');
  if (bar) { bar.value = task.progress; }
  var percent = el.querySelector('[data-field="percent"]');
  if (percent) { percent.textContent = Math.round(task.progress * 100) + "%"; }
}

function poll(url, every, onData) {
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/login"; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) { if (data && onData(data) !== false) { setTimeout(tick, every); } })
      .catch(function () { setTimeout(tick, every * 3); });
  }
  setTimeout(tick, every);
}

// Redrawing the page would lose what someone is typing into the launch form: then only say so.
var formTouched = false;

function redrawOrTell() {
  if (!formTouched) { window.location.reload(); return false; }
  var note = document.getElementById("stale");
  if (note) { note.hidden = false; }
  return true;
}

function watchTaskList(table) {
  var known = {};
  table.querySelectorAll("tr[data-task]").forEach(function (row) {
    known[row.dataset.task] = row.querySelector('[data-field="state"]').textContent.trim();
  });
  poll(table.dataset.api, parseInt(table.dataset.refresh, 10) || 1000, function (data) {
    var reload = data.tasks.length !== Object.keys(known).length;
    data.tasks.forEach(function (task) {
      var row = table.querySelector('tr[data-task="' + task.task_id + '"]');
      if (!row) { reload = true; return; }
      // A finished task gains its report link and loses its cancel button: redraw once.
      if (known[task.task_id] !== task.state && task.terminal) { reload = true; }
      fillRow(row, task);
      known[task.task_id] = task.state;
    });
    return reload ? redrawOrTell() : true;
  });
}

function watchTask(section) {
  poll(section.dataset.api, parseInt(section.dataset.refresh, 10) || 1000, function (task) {
    fillRow(section, task);
    if (task.state !== section.dataset.state && task.terminal) { window.location.reload(); return false; }
    return !task.terminal;
  });
}

document.addEventListener("DOMContentLoaded", function () {
  showTimes(document);
  var table = document.getElementById("tasks");
  if (table) { watchTaskList(table); }
  var task = document.getElementById("task");
  if (task && task.dataset.state !== "succeeded" && task.dataset.state !== "failed" && task.dataset.state !== "cancelled") {
    watchTask(task);
  }
  var form = document.getElementById("create-task");
  if (form) { form.addEventListener("input", function () { formTouched = true; }); }
  var source = document.getElementById("source");
  var text = document.getElementById("study_text");
  if (source && text) {
    var sync = function () { text.disabled = source.value !== "custom"; };
    source.addEventListener("change", sync);
    sync();
  }
});
