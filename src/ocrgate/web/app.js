// The page's wiring: limits, the backend chooser, the file picker / drop zone, recent jobs, and what to do
// with the files: one image is read at once (POST /v1/ocr); a PDF, a TIFF or several files run as a job.
// After *Recognise* the keyboard focus goes to the result's heading; the "API key" button sets the tab's key.

import { ApiError, formatBytes, getLimits, postForm } from "./api.js";
import { apiKey, askForKey } from "./auth.js";
import { BackendPicker } from "./backends.js";
import { compareView } from "./compare.js";
import { el } from "./dom.js";
import { RecentJobs } from "./history.js";
import { JobView } from "./jobs.js";
import { textLayerControl } from "./options.js";
import { readState, writeState } from "./params.js";
import { resultView } from "./render.js";

const $ = (id) => document.getElementById(id);
const state = { files: [], kind: null, limits: null, objectUrl: null };

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

// Focus the result's heading (keyboard and screen-reader users land on what they asked for), unless the
// person has moved on: only when focus fell to the page itself (the disabled Recognise button lost it).
function focusResult() {
  const active = document.activeElement;
  if (active && active !== document.body && active !== submit) return;
  const heading = result.querySelector("h2");
  if (!heading) return;
  if (!heading.hasAttribute("tabindex")) heading.tabIndex = -1;
  heading.focus();
}

function setBusy(busy) {
  result.setAttribute("aria-busy", String(busy));
  submit.disabled = busy || !state.files.length;
  document.body.classList.toggle("busy", busy);
}

const picker = new BackendPicker($("backend-list"), showError);
const textLayer = textLayerControl(readState().textLayer, (value) => writeState({ text_layer: value }));
submit.before(textLayer.element);
const followPicker = () => textLayer.comparing(picker.chosen().length > 1);
const recent = new RecentJobs($("recent-list"), (id) => openJob(id));
const jobs = new JobView({
  panel: $("job"),
  progress: $("job-progress"),
  status: $("job-status"),
  cancel: $("job-cancel"),
  result,
  onError: showError,
  setBusy,
  onChange: () => recent.load(jobs.id),
});

function openJob(id) {
  showInfo("");
  writeState({ job: id, page: null, view: null });
  jobs.attach(id).then(() => recent.load(id));
}

async function loadLimits() {
  state.limits = await getLimits();
  const box = $("limits");
  if (!state.limits) {
    box.textContent = "This gateway does not publish its limits.";
    return;
  }
  const l = state.limits;
  box.textContent =
    `Up to ${formatBytes(l.max_upload_bytes)} per upload, ${l.max_pages} pages, ` +
    `${(l.max_page_pixels / 1e6).toFixed(0)} megapixels per page; PDFs read at ${l.pdf_dpi} dpi.`;
}

async function sniff(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const text = String.fromCharCode(...head);
  if (text === "%PDF") return "pdf";
  if (text === "II*\0" || text === "MM\0*") return "tiff";
  return "image";
}

async function chooseFiles(list) {
  const files = [...(list || [])];
  if (!files.length) return;
  state.files = files;
  state.kind = files.length > 1 ? "set" : await sniff(files[0]);
  const size = files.reduce((sum, f) => sum + f.size, 0);
  const what = files.length > 1 ? `${files.length} files` : files[0].name;
  const note = { image: "", pdf: " (PDF: runs as a job)", tiff: " (TIFF: runs as a job)", set: ": one job of all their pages" }[state.kind];
  $("file-info").textContent = `${what} — ${formatBytes(size)}${note}`;
  showInfo("");
  submit.disabled = false;
  if (state.limits && size > state.limits.max_upload_bytes) {
    showError(new ApiError("file_too_large", `${formatBytes(size)} is over the ${formatBytes(state.limits.max_upload_bytes)} limit`, 413));
    submit.disabled = true;
  }
}

async function run(event) {
  event.preventDefault();
  const files = state.files;
  const backends = picker.chosen();
  if (!files.length) return;
  if (!backends.length) {
    showError(new ApiError("invalid_request", "choose at least one backend", 0));
    return;
  }
  if (!picker.valid()) return;
  const own = picker.backendOptions();
  jobs.close();
  writeState({ job: null, page: null, view: null });
  showInfo(`Reading ${files.length > 1 ? `${files.length} files` : files[0].name} with ${backends.join(", ")}…`);
  result.replaceChildren();
  setBusy(true);
  try {
    if (state.kind !== "image") {
      await jobs.submit(files, backends, own, { text_layer: textLayer.value() });
      showInfo("");
      focusResult();
      recent.load(jobs.id);
      return;
    }
    const response = await postForm("/v1/ocr", {
      file: files[0], backend: backends.join(","), boxes: "first",
      backend_options: Object.keys(own).length ? JSON.stringify(own) : null, text_layer: textLayer.value(),
    });
    if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    state.objectUrl = URL.createObjectURL(files[0]);
    const view = response.results
      ? compareView(response, { imageSrc: state.objectUrl })
      : resultView(response, { imageSrc: state.objectUrl });
    result.replaceChildren(view);
    showInfo("");
    setBusy(false);
    focusResult();
  } catch (exc) {
    setBusy(false);
    showError(exc);
    if (document.activeElement === document.body && !submit.disabled) submit.focus();
    if (exc.code === "backend_unavailable" || exc.code === "busy") picker.load();
  }
}

function showKeyState() {
  const button = $("key-button");
  button.textContent = apiKey() ? "API key ✓" : "API key";
  button.setAttribute("aria-label", apiKey() ? "API key (set for this tab)" : "API key");
}

// The key entered from the button: everything read with the old one (or none) is read again.
async function enterKey() {
  const key = await askForKey({ asked: true });
  if (!key) return;
  showInfo("");
  loadLimits();
  picker.load().then(fromHash);
  recent.load(jobs.id);
}

function fromHash() {
  const id = readState().job;
  if (id && id !== jobs.id) jobs.attach(id).then(() => recent.load(id));
}

function wire() {
  const input = $("file");
  const zone = $("drop");
  input.addEventListener("change", () => chooseFiles(input.files));
  for (const name of ["dragenter", "dragover"]) {
    zone.addEventListener(name, (e) => { e.preventDefault(); zone.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    zone.addEventListener(name, () => zone.classList.remove("over"));
  }
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) chooseFiles(e.dataTransfer.files);
  });
  zone.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
  });
  $("form").addEventListener("submit", run);
  $("refresh").addEventListener("click", () => picker.load().then(followPicker));
  $("backend-list").addEventListener("change", followPicker);
  $("recent-refresh").addEventListener("click", () => recent.load(jobs.id));
  $("key-button").addEventListener("click", enterKey);
  document.addEventListener("ocrgate:api-key", showKeyState);
  showKeyState();
  window.addEventListener("hashchange", fromHash);
}

wire();
loadLimits();
picker.load().then(followPicker).then(fromHash);
recent.load(readState().job);
