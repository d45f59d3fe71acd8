// The page's wiring: limits, backend chooser, file picker / drop zone, and what to do with a file.

import { ApiError, formatBytes, getJSON, getLimits, postForm } from "./api.js";
import { compareView } from "./compare.js";
import { JobView } from "./jobs.js";
import { el, resultView } from "./render.js";

const $ = (id) => document.getElementById(id);
const state = { file: null, kind: null, limits: null, objectUrl: null };

const message = $("message");
const result = $("result");
const submit = $("submit");

function showError(exc) {
  const err = exc instanceof ApiError ? exc : new ApiError("network", String(exc), 0);
  message.className = "message error";
  message.replaceChildren(
    el("strong", { text: err.friendly }),
    el("span", { class: "detail", text: ` (${err.code}${err.status ? `, HTTP ${err.status}` : ""}: ${err.message})` }),
  );
  message.dataset.code = err.code;
  message.hidden = false;
}

function showInfo(text) {
  message.className = "message info";
  message.textContent = text;
  delete message.dataset.code;
  message.hidden = !text;
}

function setBusy(busy) {
  result.setAttribute("aria-busy", String(busy));
  submit.disabled = busy || !state.file;
  document.body.classList.toggle("busy", busy);
}

const jobs = new JobView({
  panel: $("job"),
  progress: $("job-progress"),
  status: $("job-status"),
  cancel: $("job-cancel"),
  result,
  onError: showError,
  setBusy,
});

async function loadLimits() {
  state.limits = await getLimits();
  const box = $("limits");
  if (!state.limits) {
    box.textContent = "This gateway does not publish its limits.";
    return;
  }
  const l = state.limits;
  box.textContent =
    `Up to ${formatBytes(l.max_upload_bytes)} per file, ${l.max_pages} pages, ` +
    `${(l.max_page_pixels / 1e6).toFixed(0)} megapixels per page; PDFs read at ${l.pdf_dpi} dpi.`;
}

function deviceText(worker) {
  const h = worker.health || {};
  const gpus = (h.device && h.device.gpus) || [];
  if (gpus.length) return gpus.map((g) => g.name || `GPU ${g.index ?? g.id ?? ""}`).join(", ");
  return (h.engine && h.engine.device) || "cpu";
}

async function loadBackends() {
  const list = $("backend-list");
  const checked = new Set([...list.querySelectorAll("input:checked")].map((i) => i.value));
  let backends;
  try {
    backends = await getJSON("/v1/backends");
  } catch (exc) {
    list.replaceChildren(el("li", { class: "muted", text: "Could not list the backends." }));
    showError(exc);
    return;
  }
  list.replaceChildren();
  backends.forEach((b, i) => {
    const id = `backend-${b.name}`;
    const devices = [...new Set(b.workers.map(deviceText))].join(", ") || "no worker";
    const input = el("input", { type: "checkbox", id, name: "backend", value: b.name });
    input.checked = checked.size ? checked.has(b.name) : i === 0 && b.healthy;
    const healthy = b.workers.filter((w) => w.healthy).length;
    list.append(el("li", {},
      input,
      el("label", { for: id },
        el("span", { class: "name", text: b.name }),
        el("span", { class: `badge ${b.healthy ? "ok" : "down"}`, text: b.healthy ? "healthy" : "down" }),
        el("span", { class: "muted small-text", text: `${devices} · ${healthy}/${b.workers.length} workers · queue ${b.queue_depth}/${b.capacity}` }),
      ),
    ));
  });
  if (!list.querySelector("input:checked") && backends.length) list.querySelector("input").checked = true;
}

async function sniff(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const text = String.fromCharCode(...head);
  if (text === "%PDF") return "pdf";
  if (text === "II*\0" || text === "MM\0*") return "tiff";
  return "image";
}

async function chooseFile(file) {
  if (!file) return;
  state.file = file;
  state.kind = await sniff(file);
  $("file-info").textContent = `${file.name} — ${formatBytes(file.size)}${state.kind === "image" ? "" : ` (${state.kind.toUpperCase()}: runs as a job)`}`;
  showInfo("");
  submit.disabled = false;
  if (state.limits && file.size > state.limits.max_upload_bytes) {
    showError(new ApiError("file_too_large", `${formatBytes(file.size)} is over the ${formatBytes(state.limits.max_upload_bytes)} limit`, 413));
    submit.disabled = true;
  }
}

function chosenBackends() {
  return [...document.querySelectorAll('#backend-list input:checked')].map((i) => i.value);
}

async function run(event) {
  event.preventDefault();
  const file = state.file;
  const backends = chosenBackends();
  if (!file) return;
  if (!backends.length) {
    showError(new ApiError("invalid_request", "choose at least one backend", 0));
    return;
  }
  jobs.close();
  history.replaceState(null, "", `${location.pathname}${location.search}`);
  showInfo(`Reading ${file.name} with ${backends.join(", ")}…`);
  result.replaceChildren();
  setBusy(true);
  try {
    if (state.kind !== "image") {
      await jobs.submit(file, backends);
      showInfo("");
      return;
    }
    const response = await postForm("/v1/ocr", { file, backend: backends.join(","), boxes: "first" });
    if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    state.objectUrl = URL.createObjectURL(file);
    const view = response.results
      ? compareView(response, { imageSrc: state.objectUrl })
      : resultView(response, { imageSrc: state.objectUrl });
    result.replaceChildren(view);
    showInfo("");
    setBusy(false);
  } catch (exc) {
    setBusy(false);
    showError(exc);
    if (exc.code === "backend_unavailable" || exc.code === "busy") loadBackends();
  }
}

function fromHash() {
  const id = new URLSearchParams(location.hash.slice(1)).get("job");
  if (id && id !== jobs.id) jobs.attach(id);
}

function wire() {
  const input = $("file");
  const zone = $("drop");
  input.addEventListener("change", () => chooseFile(input.files[0]));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) chooseFile(e.dataTransfer.files[0]);
  });
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  $("form").addEventListener("submit", run);
  $("refresh").addEventListener("click", loadBackends);
  window.addEventListener("hashchange", fromHash);
}

wire();
loadLimits();
loadBackends().then(fromHash);
