// The clinician's page: log in, choose an image, see the prediction and the model card.
// The session lives in an HttpOnly cookie; every state-changing call sends the CSRF header.
"use strict";

const API = "/api/v1";
const CSRF = { "X-Medfed-CSRF": "1" };

const $ = (id) => document.getElementById(id);

function show(id, visible) { $(id).hidden = !visible; }

function showError(id, message) {
  $(id).textContent = message;
  show(id, Boolean(message));
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return `the service answered ${response.status} ${response.statusText}`;
}

function firstOf(card, keys) {
  for (const key of keys) {
    const value = card[key];
    if (value !== undefined && value !== null && value !== "") return value;
  }
  return undefined;
}

function flatten(prefix, value, rows) {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(prefix ? `${prefix}.${key}` : key, inner, rows);
  } else {
    rows.push([prefix, value]);
  }
  return rows;
}

function formatValue(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(4);
  if (Array.isArray(value)) return value.join(", ");
  return String(value);
}

function renderCard(card) {
  const study = firstOf(card, ["study_id", "study"]);
  const summary = [
    ["Study", typeof study === "object" ? (study.id || JSON.stringify(study)) : study],
    ["Model version", firstOf(card, ["version", "model_version"])],
    ["Date", firstOf(card, ["created_at", "created", "exported_at", "date", "trained_at"])],
    ["Model", firstOf(card, ["model_name", "model", "architecture"])],
    ["Classes", firstOf(card.postprocessing || {}, ["class_names"]) || firstOf(card, ["class_names", "classes"])],
    ["Dataset", card.dataset && card.dataset.flag],
    ["Quantization", card.quantization && card.quantization.mode],
    ["Signed by", card.signer && `${card.signer.name} (${card.signer.role})`],
  ];
  const dl = $("card-summary");
  dl.replaceChildren();
  for (const [name, value] of summary) {
    if (value === undefined || value === null) continue;
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = typeof value === "object" && !Array.isArray(value) ? JSON.stringify(value) : formatValue(value);
    dl.append(dt, dd);
  }
  const body = $("card-metrics").tBodies[0];
  body.replaceChildren();
  for (const [name, value] of flatten("", card.metrics || {}, [])) {
    const row = body.insertRow();
    row.insertCell().textContent = name;
    row.insertCell().textContent = formatValue(value);
  }
  $("card-json").textContent = JSON.stringify(card, null, 2);
}

function renderPrediction(result) {
  $("predicted-label").textContent = result.label;
  const top = result.probabilities[result.label];
  $("predicted-probability").textContent = `${(100 * top).toFixed(1)} %`;
  $("result-version").textContent = `${result.model.version} (study ${result.model.study_id})`;
  const body = $("probabilities").tBodies[0];
  body.replaceChildren();
  const entries = Object.entries(result.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [label, probability] of entries) {
    const row = body.insertRow();
    row.dataset.label = label;
    row.dataset.probability = String(probability);
    if (label === result.label) row.className = "top";
    row.insertCell().textContent = label;
    row.cells[0].className = "name";
    const barCell = row.insertCell();
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = `${(100 * probability).toFixed(2)}%`;
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "1");
    bar.setAttribute("aria-valuenow", String(probability));
    bar.setAttribute("aria-label", label);
    barCell.append(bar);
    const value = row.insertCell();
    value.className = "value";
    value.textContent = `${(100 * probability).toFixed(1)} %`;
  }
  show("result", true);
}

async function enter() {
  const response = await fetch(`${API}/model`, { credentials: "same-origin" });
  if (response.status === 401) {
    show("workspace", false);
    show("session", false);
    show("login", true);
    return;
  }
  if (!response.ok) {
    show("login", true);
    showError("login-error", await errorMessage(response));
    return;
  }
  renderCard(await response.json());
  const session = await fetch(`${API}/session`, { credentials: "same-origin" });
  if (session.ok) $("who").textContent = (await session.json()).user;
  show("login", false);
  show("workspace", true);
  show("session", true);
}

async function login(event) {
  event.preventDefault();
  showError("login-error", "");
  const response = await fetch(`${API}/login`, {
    method: "POST",
    credentials: "same-origin",
    headers: { ...CSRF, "Content-Type": "application/json" },
    body: JSON.stringify({ username: $("username").value, password: $("password").value }),
  });
  $("password").value = "";
  if (!response.ok) {
    showError("login-error", `Login refused: ${await errorMessage(response)}`);
    return;
  }
  await enter();
}

async function logout() {
  await fetch(`${API}/logout`, { method: "POST", credentials: "same-origin", headers: CSRF });
  show("result", false);
  $("who").textContent = "";
  await enter();
}

async function predict(event) {
  event.preventDefault();
  showError("predict-error", "");
  show("result", false);
  const file = $("image").files[0];
  if (!file) {
    showError("predict-error", "Choose an image first.");
    return;
  }
  const preview = $("preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.hidden = !/^image\/(png|jpeg)$/.test(file.type);
  if (!preview.hidden) preview.src = URL.createObjectURL(file);
  const form = new FormData();
  form.append("file", file, file.name);
  $("predict-button").disabled = true;
  try {
    const response = await fetch(`${API}/predict`, {
      method: "POST", credentials: "same-origin", headers: CSRF, body: form,
    });
    if (response.status === 401) {
      await enter();
      return;
    }
    if (!response.ok) {
      showError("predict-error", `Cannot classify ${file.name}: ${await errorMessage(response)}`);
      return;
    }
    renderPrediction(await response.json());
  } catch (error) {
    showError("predict-error", `The service cannot be reached: ${error.message}`);
  } finally {
    $("predict-button").disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("predict-form").addEventListener("submit", predict);
  $("logout").addEventListener("click", logout);
  enter();
});
