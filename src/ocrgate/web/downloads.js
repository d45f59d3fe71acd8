// A job's result as files: one button per format that `GET /v1/jobs/{id}/result?format=` serves, and for a
// job of several engines a choice of whose reading (`&backend=`; a file holds one engine's reading). The
// file is fetched with the API key (fetch + Blob, not a bare link) and saved as the upload's name plus the
// format's extension, as the gateway's Content-Disposition names it (`scan.alto.xml`, `scan.ocr.pdf`); with
// several engines the engine's name comes before the extension (`scan.tesseract.hocr`). A job of a set of
// files is named after the set: its first file and how many more (`phototest+3.md`; the gateway names
// such a job `phototest.png + 3 more`).

import { getBlob } from "./api.js";
import { download, el, stem } from "./dom.js";

// format → [button text, extension] (the extensions of ocrgate.formats.FORMATS)
export const FORMATS = {
  md: ["Markdown", ".md"],
  txt: ["Text", ".txt"],
  json: ["JSON", ".json"],
  alto: ["ALTO XML", ".alto.xml"],
  hocr: ["hOCR", ".hocr"],
  pdf: ["Searchable PDF", ".ocr.pdf"],
};

// the name the gateway gives a job of several files (ocrgate.gateway.uploads): `first.png + 3 more`
const SET_NAME = /^(.*) \+ (\d+) more$/;

// The stem of every file a job downloads as: its upload's name without the extension (`scan.pdf` → `scan`),
// for a set of files the first one's and how many more (`phototest.png + 3 more` → `phototest+3`).
export function jobStem(name) {
  const set = SET_NAME.exec(String(name || ""));
  return set ? `${stem(set[1])}+${set[2]}` : stem(name);
}

export function fileName(job, format, backend) {
  const engine = job.backends.length > 1 ? `.${backend}` : "";
  return `${jobStem(job.name)}${engine}${FORMATS[format][1]}`;
}

// The downloads of `job` (its status, name, backends); disabled until `ready(true)` (a job's files are
// written once it has ended). Returns `{element, ready(on)}`.
export function jobDownloads(job, { onError }) {
  const buttons = [];
  let chooser = null;
  if (job.backends.length > 1) {
    chooser = el("select", { class: "download-backend", "aria-label": "Engine whose reading to download" },
      ...job.backends.map((name) => el("option", { value: name, text: name })));
  }
  const save = async (format, button) => {
    const backend = chooser ? chooser.value : job.backends[0];
    const query = new URLSearchParams({ format, backend });
    button.disabled = true;
    try {
      const blob = await getBlob(`/v1/jobs/${encodeURIComponent(job.id)}/result?${query}`);
      download(fileName(job, format, backend), blob);
    } catch (exc) {
      onError(exc);
    } finally {
      button.disabled = false;
    }
  };
  for (const [format, [text]] of Object.entries(FORMATS)) {
    const button = el("button", { type: "button", class: "small", "data-format": format, text, disabled: true });
    button.addEventListener("click", () => save(format, button));
    buttons.push(button);
  }
  const element = el("div", { class: "job-downloads", role: "group", "aria-label": "Download the result" },
    el("span", { class: "muted", text: "Download" }), chooser, ...buttons);
  return { element, ready: (on) => buttons.forEach((b) => { b.disabled = !on; }) };
}
