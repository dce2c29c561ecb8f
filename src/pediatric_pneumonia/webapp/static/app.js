"use strict";
// Uploads one file to /api/predict and shows the answer. Everything from the server is written
// with textContent or as an <img> data: URL, never as HTML.

const byId = (id) => document.getElementById(id);

function showError(message) {
  byId("status").textContent = "";
  byId("result").hidden = true;
  byId("error").textContent = message;
  byId("error").hidden = false;
}

function showResult(result) {
  byId("status").textContent = "";
  byId("error").hidden = true;
  byId("result-source").textContent = result.source;
  byId("result-label").textContent = result.label;
  byId("result-positive").textContent = result.probabilities ? "pneumonia" : result.classes[result.classes.length - 1];
  const perClass = result.probabilities
    ? Object.entries(result.probabilities).map(([name, value]) => `${name} ${value.toFixed(3)}`).join(", ")
    : "";
  byId("result-probabilities").textContent = perClass;
  byId("result-probabilities").hidden = !perClass;
  byId("result-probabilities-term").hidden = !perClass;
  byId("result-probability").textContent = result.probability.toFixed(3);
  byId("result-threshold").textContent = result.threshold.toFixed(3);
  byId("result-model").textContent = result.model;
  byId("result-ood").textContent = result.ood_score === null ? "not available for this model" : result.ood_score.toFixed(1);
  byId("result-warning").textContent = result.ood_warning || "";
  byId("result-warning").hidden = !result.ood_warning;
  const caveats = result.caveats.map((caveat) => `Caution, from the model's recalibration: ${caveat}.`).join(" ");
  byId("result-caveats").textContent = caveats;
  byId("result-caveats").hidden = !caveats;
  byId("result-image").src = result.image;
  byId("result-overlay").src = result.overlay;
  byId("result").hidden = false;
}

async function upload(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  byId("error").hidden = true;
  byId("status").textContent = `Analysing ${file.name}…`;
  let response;
  try {
    // The token, when the server asked for one, goes in a header: never in the URL or a cookie.
    const token = byId("token").value.trim();
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    response = await fetch("/api/predict", { method: "POST", body: form, headers });
  } catch (error) {
    showError(`The server could not be reached (${error.message}). Is it still running?`);
    return;
  }
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `${response.status} ${response.statusText}`;
    if (response.status === 401) {
      byId("token-request").hidden = false;
      byId("token").focus();
    }
    showError(detail);
  } else if (body === null) {
    showError("The server answered with something that is not a prediction.");
  } else {
    showResult(body);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const input = byId("file-input");
  const dropzone = byId("dropzone");
  input.addEventListener("change", () => {
    if (input.files.length > 0) upload(input.files[0]);
    input.value = "";
  });
  dropzone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropzone.classList.add("dragging");
  });
  dropzone.addEventListener("dragleave", () => dropzone.classList.remove("dragging"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropzone.classList.remove("dragging");
    const files = event.dataTransfer.files;
    if (files.length === 1) upload(files[0]);
    else showError(`Drop one image at a time (got ${files.length} files).`);
  });
  document.body.setAttribute("data-ready", "true");
});
