// A job's server-sent events (GET /v1/jobs/{id}/events) read with fetch rather than EventSource, which
// cannot send the API key's header. The stream is cut into events as the HTML standard's "interpreting an
// event stream" says (lines end in CRLF, LF or CR; `event:` names the event, `data:` lines are joined by
// line feeds, a blank line dispatches; a line starting with a colon is a comment such as the pings).

import { ApiError, parse, send } from "./api.js";

// Start reading `path`; `onEvent(type, data)` for each event. Returns `{close(), ended}`: `ended` resolves
// when the server ends the stream (or `close()` was called) and rejects with an ApiError when it cannot
// be read (an error answer, the network).
export function openEvents(path, onEvent) {
  const controller = new AbortController();
  const ended = read(path, controller.signal, onEvent).catch((exc) => {
    if (controller.signal.aborted) return;
    throw exc instanceof ApiError ? exc : new ApiError("network", String(exc && exc.message ? exc.message : exc), 0);
  });
  return { close: () => controller.abort(), ended };
}

async function read(path, signal, onEvent) {
  const response = await send(path, { signal, headers: { Accept: "text/event-stream" } });
  if (!response.ok) await parse(response); // throws the answer's ApiError
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let type = "";
  let data = [];
  const line = (text) => {
    if (text === "") {
      if (data.length) onEvent(type || "message", data.join("\n"));
      type = "";
      data = [];
      return;
    }
    const colon = text.indexOf(":");
    if (colon === 0) return; // a comment
    const field = colon < 0 ? text : text.slice(0, colon);
    const value = colon < 0 ? "" : text.slice(colon + 1).replace(/^ /, "");
    if (field === "event") type = value;
    else if (field === "data") data.push(value);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // a CR at the very end may be the first half of a CRLF: keep it for the next chunk
    const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
    const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
    buffer = lines.pop() + buffer.slice(cut);
    for (const text of lines) line(text);
  }
}
