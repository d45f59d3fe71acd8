// Talking to the gateway: base URL, JSON calls, typed errors with friendly messages. Every call carries the
// tab's API key (auth.js); a 401 asks for one and sends the request again with it.

import { apiKey, askForKey, withKey } from "./auth.js";

function apiBase() {
  const fromQuery = new URLSearchParams(location.search).get("api");
  const meta = document.querySelector('meta[name="ocrgate-api"]');
  const base = fromQuery || (meta && meta.content) || "";
  return base.replace(/\/+$/, "");
}

export const API = apiBase();

export function url(path) {
  return API + path;
}

const MESSAGES = {
  file_too_large: "The file is too large for this gateway.",
  image_too_large: "The page image has too many pixels for this gateway.",
  too_many_pages: "The document has more pages than this gateway accepts.",
  unsupported_type:
    "This file type is not supported. Send a PNG, JPEG, TIFF, WebP, BMP image or a PDF.",
  corrupt_file: "The file looks damaged: it could not be decoded.",
  encrypted_pdf: "The PDF is password-protected. Remove the password and try again.",
  empty_document: "The file is empty (or the PDF has no pages).",
  invalid_option: "An option was refused by the backend.",
  invalid_request: "The request was malformed.",
  unknown_backend: "That backend is not registered on this gateway.",
  backend_unavailable: "The chosen backend is down: no healthy worker can take the page.",
  backend_error: "The backend failed while reading the page.",
  busy: "The backend is busy: its queue is full.",
  timeout: "The page took too long on every worker tried.",
  not_found: "Not found (a job may have expired).",
  unauthorized: "This gateway needs an API key.",
  storage_error: "The gateway could not store the upload.",
  network: "Could not reach the gateway.",
};

export class ApiError extends Error {
  constructor(code, message, status, retryAfter) {
    super(message);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  // One sentence for people, then the server's own detail.
  get friendly() {
    let text = MESSAGES[this.code] || "The gateway answered with an error.";
    if (this.code === "busy" && this.retryAfter) {
      text += ` Try again in ${this.retryAfter} s.`;
    }
    return text;
  }
}

// The answer's JSON body; an ApiError when it is an error (a 4xx/5xx, or `success: false`).
export async function parse(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok || (body && body.success === false && body.error)) {
    const err = (body && body.error) || {};
    throw new ApiError(
      err.code || `http_${response.status}`,
      err.message || response.statusText || "error",
      response.status,
      response.headers.get("Retry-After"),
    );
  }
  return body;
}

function networkError(exc) {
  return new ApiError("network", String(exc && exc.message ? exc.message : exc), 0, null);
}

// The gateway's Response to `path` (any status but a 401 the person could not answer with a key).
export async function send(path, options = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const sent = apiKey();
    let response;
    try {
      response = await fetch(url(path), { ...options, headers: withKey(options.headers) });
    } catch (exc) {
      throw networkError(exc);
    }
    if (response.status !== 401 || (options.signal && options.signal.aborted)) return response;
    // a key entered meanwhile (another call's dialog) is tried first; then the person is asked
    if (apiKey() !== sent) continue;
    const key = await askForKey({ refused: !!sent || attempt > 0 });
    if (!key) return response;
  }
}

export async function call(path, options = {}) {
  return parse(await send(path, options));
}

export function getJSON(path) {
  return call(path, { headers: { Accept: "application/json" } });
}

export async function getLimits() {
  try {
    return await getJSON("/v1/limits");
  } catch {
    return null; // older gateways have no /v1/limits: show nothing rather than guess
  }
}

// A multipart POST; an array value becomes several parts of that name (several files).
export function postForm(path, fields) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null) form.append(key, item);
    }
  }
  return call(path, { method: "POST", body: form });
}

export function sendJSON(path, method, body) {
  return call(path, { method, headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) });
}

// A binary answer (a page image, a zip, a result file) as a Blob; errors as ApiError like every other call.
export async function getBlob(path) {
  const response = await send(path);
  if (!response.ok) await parse(response);
  return response.blob();
}

export function formatBytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) ? 1 : 0)} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} B`;
}
