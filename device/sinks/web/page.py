"""The web view's one page: HTML, CSS and JavaScript in one string, no external assets (the Pi is offline).

It shows the live view (label and score drawn on it by the server), the framed model input
magnified, the answer in its header, the last results, counts per label since the model started, and the
status with the one frame rate it shows and what the model was measured at; in trigger
mode a "Classify now" button. The live view, its answer, the model input and the newest result are
all of one frame: the page asks ``/api/frame`` which frame to show next, loads that frame's picture
and model input, and shows them with its answer at once. With the service's teach panel: classes
named here, examples captured from the camera into each (undo the last, remove a class), a model fitted and
run, the space the examples take; a photo uploaded from a phone classified (and kept as an example, if
asked); a digit drawn with a finger or the mouse classified by the digits model. A token in the page's
address (``?token=``) is passed on to every request it makes.
"""

from piclassify.device.sinks.web.page_regions import with_regions

PAGE_HTML = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>piclassify</title>
<style>
:root { color-scheme: dark; --bg: #111418; --card: #1b2026; --line: #2c333b; --text: #e8ecf0;
        --dim: #8d98a5; --accent: #4fb3ff; --ok: #3ccf6e; --bad: #ff5c5c; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text);
       font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: center; gap: .6em; padding: .6em 1em; border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1em; margin: 0; }
h2 { font-size: .8em; margin: 0 0 .5em; color: var(--dim); text-transform: uppercase; letter-spacing: .06em; }
#now { margin-left: auto; font-weight: 600; font-size: 1.1em; }
.dot { width: .7em; height: .7em; border-radius: 50%; background: var(--dim); flex: none; }
.dot.ok { background: var(--ok); } .dot.bad { background: var(--bad); }
main { padding: .8em; max-width: 1200px; margin: 0 auto; }
.views { display: flex; gap: .8em; justify-content: center; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .5em; }
.live { flex: 3 1 0; min-width: 0; max-width: 720px; }
.input { flex: 1 1 0; min-width: 0; max-width: 300px; align-self: flex-start; }
figure img { display: block; width: 100%; height: auto; background: #000; border-radius: 4px; }
.live img { aspect-ratio: 4 / 3; object-fit: contain; }
.input img { aspect-ratio: 1; image-rendering: pixelated; image-rendering: crisp-edges; }
figcaption { color: var(--dim); font-size: .8em; margin-top: .3em; }
button { margin: .8em 0 0; width: 100%; padding: .8em; font-size: 1.05em; font-weight: 600; border: 0;
         border-radius: 8px; background: var(--accent); color: #06121d; cursor: pointer; }
button:active { transform: scale(.99); }
.panels { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: .8em; margin-top: .8em; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .7em .8em; min-width: 0; }
ol { list-style: none; margin: 0; padding: 0; max-height: 22em; overflow-y: auto; }
li { display: flex; gap: .6em; padding: .25em 0; border-bottom: 1px solid var(--line); }
li .t { color: var(--dim); font-variant-numeric: tabular-nums; }
li .l { font-weight: 600; flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
li .s { font-variant-numeric: tabular-nums; }
li.none .l { color: var(--dim); font-weight: 400; }
table { width: 100%; border-collapse: collapse; }
td { padding: .2em 0; } td.n { text-align: right; width: 4em; font-variant-numeric: tabular-nums; }
.bar { height: .5em; background: var(--accent); border-radius: 3px; min-width: 2px; }
td.b { width: 40%; padding-left: .6em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2em .8em; margin: 0; }
dt { color: var(--dim); } dd { margin: 0; overflow-wrap: anywhere; }
.empty { color: var(--dim); }
.row { display: flex; gap: .5em; margin-top: .5em; align-items: center; }
.row > input, .row > select { flex: 1; min-width: 0; }
input, select { padding: .5em; font: inherit; color: var(--text); background: var(--bg);
                border: 1px solid var(--line); border-radius: 6px; }
button.small { width: auto; margin: 0; padding: .5em .8em; font-size: .95em; }
button:disabled { opacity: .5; }
canvas { display: block; width: 100%; max-width: 280px; aspect-ratio: 1; background: #fff; border-radius: 4px;
         touch-action: none; }
</style>
</head>
<body>
<header><span id="health" class="dot" title="frames flowing"></span><h1 id="title">piclassify</h1>
<span id="now"></span></header>
<main>
<section class="views">
<figure class="live"><img id="live" alt="live view"><figcaption id="live-note">live view</figcaption></figure>
<figure class="input" title="the framed image the model read, magnified"><img id="input" alt="model input">
<figcaption id="input-note">model input</figcaption></figure>
</section>
<button id="trigger" type="button" hidden>Classify now</button>
<section class="panels">
<div class="card"><h2>Last results</h2><ol id="results"><li class="empty">none yet</li></ol></div>
<div class="card"><h2 id="counts-since">Counts</h2>
<table id="counts"><tr><td class="empty">none yet</td></tr></table></div>
<div class="card"><h2>Status</h2><dl id="status"></dl></div>
</section>
<section class="panels">
<div class="card" id="teach" hidden><h2>Teach</h2>
<p class="empty">Name a class, show it to the camera, capture. Two classes of two or more examples make a model.</p>
<div class="row"><input id="class-name" placeholder="class name, e.g. mug" maxlength="32">
<button id="add-class" class="small" type="button">Add class</button></div>
<table id="classes"></table>
<div class="row"><button id="undo" class="small" type="button">Undo last</button></div>
<div class="row"><input id="model-name" value="taught" maxlength="64" aria-label="model name">
<button id="fit" class="small" type="button">Fit and run</button></div>
<p id="teach-status" class="empty"></p><p id="teach-store" class="empty"></p></div>
<div class="card" id="upload-card" hidden><h2>Classify a photo</h2>
<input id="upload" type="file" accept="image/*" capture="environment" aria-label="photo">
<div class="row"><select id="upload-class" aria-label="keep as an example of"><option value="">only classify it</option>
</select></div><p id="upload-answer" class="empty"></p></div>
<div class="card" id="draw-card" hidden><h2>Draw a digit</h2>
<canvas id="draw" width="280" height="280"></canvas>
<div class="row"><button id="draw-classify" class="small" type="button">Classify drawing</button>
<button id="draw-clear" class="small" type="button">Clear</button></div>
<p id="draw-answer" class="empty"></p></div>
</section>
</main>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);
let lookSeq = 0, lookId = 0;  // the frame on screen: its number here, its result's id
let ahead = [];  // results newer than the frame on screen, listed once it catches up (at most 100 wait)

function url(path, extra) {
  const parts = [extra, token ? "token=" + encodeURIComponent(token) : ""].filter(Boolean);
  return path + (parts.length ? "?" + parts.join("&") : "");
}
function node(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
}
function duration(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}
function bytes(n) {
  return n == null ? "not written yet" : n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB"
    : (n / 1048576).toFixed(1) + " MiB";
}
function addResult(r, id) {
  // In the order of their ids (their capture times), each once, at most 30.
  const list = $("results"), rows = [...list.querySelectorAll("li[data-id]")];
  if (rows.some((li) => Number(li.dataset.id) === id)) return;
  const older = rows.find((li) => Number(li.dataset.id) < id);
  if (!older && rows.length >= 30) return;
  const empty = list.querySelector(".empty");
  if (empty) empty.remove();
  const li = node("li", undefined, r.label == null ? "none" : "");
  li.dataset.id = id;
  li.append(node("span", clock(r.time), "t"),
            node("span", r.label == null ? "nothing in view" : r.label, "l"),
            node("span", r.score == null ? "" : r.score.toFixed(2), "s"));
  li.title = r.source + " #" + r.frame + (r.reason ? " (" + r.reason + ")" : "");
  list.insertBefore(li, older || null);
  while (list.children.length > 30) list.lastChild.remove();
}
function arrived(r, id) {
  // A result newer than the frame on screen waits for it, so the newest row is never ahead of the picture.
  if (id > lookId) ahead.push({r, id}); else addResult(r, id);
  if (ahead.length > 100) catchUp(ahead[0].id);
}
function catchUp(id) {
  for (const a of ahead.filter((a) => a.id <= id)) addResult(a.r, a.id);
  ahead = ahead.filter((a) => a.id > id);
}
function said(r) {
  const what = r.label == null ? "nothing in view" : r.label + (r.score == null ? "" : " " + r.score.toFixed(2));
  return (r.region ? r.region + ": " : "") + what;
}
function picture(id, path, seq) {
  const img = new Image();
  img.id = id;
  img.alt = $(id).alt;
  img.src = url(path, "seq=" + seq);
  return img;
}
async function show(f) {
  // The frame (its answer drawn on it) and its model input load off-screen, then go in with its answer and its
  // row at once: everything on screen is of one frame.
  const live = picture("live", "snapshot.jpg", f.seq), input = picture("input", "model-input.png", f.seq);
  lookSeq = f.seq;
  try { await Promise.all([live.decode(), input.decode()]); } catch (error) { return; }  // gone: the next one
  $("live").replaceWith(live);
  $("input").replaceWith(input);
  lookId = f.result.id;
  $("now").textContent = said(f.result);
  $("live-note").textContent = "live view, frame " + f.result.frame;
  if (f.listed) addResult(f.result, lookId);
  catchUp(lookId);
}
async function look() {
  for (;;) {
    try {
      const response = await fetch(url("api/frame", "after=" + lookSeq), {cache: "no-store"});
      if (!response.ok) throw new Error(response.status + " " + response.statusText);
      const f = await response.json();
      if (f.seq !== lookSeq) await show(f);
    } catch (error) {
      $("live-note").textContent = "live view unavailable (" + error.message + "); retrying";
      catchUp(Infinity);  // the results need not wait for a picture that does not come
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}
function row(dl, key, value) { dl.append(node("dt", key), node("dd", value)); }
function renderStatus(s) {
  $("title").textContent = "piclassify: " + s.model;
  document.title = "piclassify: " + s.model;
  $("health").className = "dot " + (s.healthy ? "ok" : "bad");
  $("input-note").textContent = "model input, " + s.input[0] + "x" + s.input[1];
  $("trigger").hidden = s.mode !== "trigger";
  const dl = node("dl");
  dl.id = "status";
  const measured = s.accuracy == null ? "not measured"
                                      : (100 * s.accuracy).toFixed(2) + "% right on " + s.accuracy_on;
  row(dl, "model", s.model + " (" + measured + ")");
  row(dl, "runtime", s.runtime);
  row(dl, "source", s.source);
  row(dl, "mode", s.mode);
  row(dl, "uptime", duration(s.uptime_s));
  row(dl, "fps", s.fps.toFixed(1) + " frames classified a second (every frame, over the last 2 s)");
  row(dl, "frames", s.frames + " classified since the start");
  row(dl, "nothing in view", String(s.nothing_in_view));
  if (s.skipped) row(dl, "skipped", String(s.skipped));
  if (s.camera_errors) row(dl, "camera errors", String(s.camera_errors));
  if (s.cpu_temperature_c != null) row(dl, "CPU", s.cpu_temperature_c.toFixed(1) + " \u00b0C");
  row(dl, "results log", s.results_log ? s.results_log.path + " (" + bytes(s.results_log.bytes) + ")"
                                       : "none (recent results in memory)");
  row(dl, "status", s.status);
  $("status").replaceWith(dl);
  $("counts-since").textContent = "Counts since " + clock(s.counts_since) + " (model " + s.model + ")";
  const table = node("table");
  table.id = "counts";
  const labels = Object.keys(s.counts);
  const most = Math.max(1, ...labels.map((k) => s.counts[k]));
  for (const label of labels) {
    const tr = node("tr"), bar = node("div", undefined, "bar"), cell = node("td", undefined, "b");
    bar.style.width = (100 * s.counts[label] / most) + "%";
    cell.append(bar);
    tr.append(node("td", label), node("td", String(s.counts[label]), "n"), cell);
    table.append(tr);
  }
  if (!labels.length) {
    const tr = node("tr");
    tr.append(node("td", "none yet", "empty"));
    table.append(tr);
  }
  $("counts").replaceWith(table);
}
async function status() {
  try {
    const response = await fetch(url("api/status"), {cache: "no-store"});
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    renderStatus(await response.json());
  } catch (error) {
    $("health").className = "dot bad";
    $("now").textContent = "offline (" + error.message + ")";
  }
}
async function history() {
  try {
    const response = await fetch(url("api/results", "limit=30"), {cache: "no-store"});
    if (response.ok) for (const r of (await response.json()).results) arrived(r, r.id);
  } catch (error) { /* the event stream carries on */ }
}
function events() {
  const source = new EventSource(url("api/events"));
  source.onmessage = (e) => arrived(JSON.parse(e.data), Number(e.lastEventId));
}
$("trigger").addEventListener("click", async () => {
  const button = $("trigger");
  button.disabled = true;
  try {
    const response = await fetch(url("api/trigger"), {method: "POST"});
    button.textContent = response.ok ? "Classifying\u2026" : "Refused: " + response.status;
  } finally {
    setTimeout(() => { button.disabled = false; button.textContent = "Classify now"; }, 800);
  }
});
const named = new Set();  // classes named here that have no example yet
function answerText(r) {
  return r.label == null ? "nothing in view (" + r.reason + ")" : r.label + " " + r.score.toFixed(2);
}
async function post(path, extra, body) {
  const response = await fetch(url(path, extra), {method: "POST", body: body});
  const text = await response.text();
  if (!response.ok) {
    let error = text.trim();
    try { error = JSON.parse(text).error || error; } catch (notJson) { /* the server's own plain text */ }
    throw new Error(error || response.status + " " + response.statusText);
  }
  return JSON.parse(text);
}
function renderTeach(t) {
  const table = node("table");
  table.id = "classes";
  const names = [...new Set([...Object.keys(t.classes), ...named])].sort();
  const select = $("upload-class"), chosen = select.value;
  select.replaceChildren(node("option", "only classify it"));
  select.firstChild.value = "";
  for (const name of names) {
    const tr = node("tr"), cell = node("td", undefined, "n"), button = node("button", "Capture", "small");
    const drop = node("button", "Remove", "small"), count = t.classes[name] || 0;
    button.type = drop.type = "button";
    button.dataset.class = drop.dataset.remove = name;
    button.addEventListener("click", () => teachAction("api/teach/capture", "class=" + encodeURIComponent(name) +
                                                       captureFrom()));
    drop.addEventListener("click", () => {
      named.delete(name);
      if (name in t.classes && (!count || confirm("Remove " + name + " and its " + count + " examples?")))
        teachAction("api/teach/remove", "class=" + encodeURIComponent(name)); else teachStatus();
    });
    cell.append(button, drop);
    tr.append(node("td", name), node("td", String(count), "n"), cell);
    table.append(tr);
    const option = node("option", "keep as an example of " + name);
    option.value = name;
    select.append(option);
  }
  select.value = chosen;
  $("classes").replaceWith(table);
  $("fit").disabled = t.fitting;
  $("teach-status").textContent = t.message || "";
  $("teach-store").textContent = (t.bytes / 1e6).toFixed(1) + " MB of the " + (t.max_bytes / 1e6).toFixed(0) +
    " MB the examples may take";
}
async function teachStatus() {
  try {
    const response = await fetch(url("api/teach"), {cache: "no-store"});
    if (!response.ok) return false;
    renderTeach(await response.json());
    for (const id of ["teach", "upload-card", "draw-card"]) $(id).hidden = false;
    return true;
  } catch (error) { return false; }
}
async function teachAction(path, extra) {
  try { renderTeach(await post(path, extra)); } catch (error) { $("teach-status").textContent = error.message; }
}
$("add-class").addEventListener("click", () => {
  const name = $("class-name").value.trim();
  if (name) { named.add(name); $("class-name").value = ""; teachStatus(); }
});
$("undo").addEventListener("click", () => teachAction("api/teach/undo"));
$("fit").addEventListener("click", async () => {
  await teachAction("api/teach/fit", "name=" + encodeURIComponent($("model-name").value.trim()));
  const poll = setInterval(async () => {
    const response = await fetch(url("api/teach"), {cache: "no-store"});
    const t = await response.json();
    renderTeach(t);
    if (!t.fitting) { clearInterval(poll); status(); }
  }, 1000);
});
async function classifyBlob(blob, extra, answer) {
  $(answer).textContent = "classifying…";
  try { $(answer).textContent = answerText(await post("api/classify", extra, blob)); }
  catch (error) { $(answer).textContent = error.message; }
  teachStatus();
}
$("upload").addEventListener("change", () => {
  const file = $("upload").files[0], add = $("upload-class").value;
  if (file) classifyBlob(file, add ? "add=" + encodeURIComponent(add) : "", "upload-answer");
});
const pad = $("draw"), pen = pad.getContext("2d");
function clearPad() { pen.fillStyle = "#fff"; pen.fillRect(0, 0, pad.width, pad.height); }
function at(e) {
  const box = pad.getBoundingClientRect();
  return [(e.clientX - box.left) * pad.width / box.width, (e.clientY - box.top) * pad.height / box.height];
}
let drawing = false;
pad.addEventListener("pointerdown", (e) => {
  drawing = true;
  pad.setPointerCapture(e.pointerId);
  pen.beginPath();
  pen.moveTo(...at(e));
});
pad.addEventListener("pointermove", (e) => {
  if (!drawing) return;
  pen.lineWidth = 18; pen.lineCap = "round"; pen.lineJoin = "round"; pen.strokeStyle = "#000";
  pen.lineTo(...at(e));
  pen.stroke();
});
pad.addEventListener("pointerup", () => { drawing = false; });
$("draw-clear").addEventListener("click", () => { clearPad(); $("draw-answer").textContent = ""; });
$("draw-classify").addEventListener("click", () => {
  pad.toBlob((blob) => classifyBlob(blob, "model=digits", "draw-answer"), "image/png");
});
clearPad();
window.addEventListener("load", () => {
  teachStatus();
  status();
  setInterval(status, 2000);
  history().then(events);
  look();
});
</script>
</body>
</html>
"""

PAGE = with_regions(PAGE_HTML).encode("utf-8")
