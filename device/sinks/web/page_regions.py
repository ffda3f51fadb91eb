"""The page's part for watched regions: boxes drawn over the live view, a card per region, a drag to move one.

``with_regions`` puts it into the page (``page.PAGE_HTML``) at fixed places. The card lists each
region (``/api/regions``, every 2 s): its steady state and since when, how far its pixels are from
the last classified crop against its ``change`` threshold, its crop and its model input. **Move**,
then a drag on the live view, moves the region in the running loop (``POST /api/region``) and shows
the ``[[region]]`` lines that keep it there. **Review** lists the region's last notable answers
(where its state changed, or below min_score), each with one click to keep its crop as an example
of a class (then **Fit and run**). The teach panel's **Capture** can keep a region's crop instead of
the whole frame (the capture-from choice). The boxes assume the frame fills the live
view's 4:3 picture, as a 640x480 camera's does.
"""

REGIONS_CSS = """
.framed { position: relative; }
#boxes { position: absolute; inset: 0; touch-action: none; }
#boxes.moving { cursor: crosshair; outline: 2px dashed var(--accent); }
.box { position: absolute; border: 2px solid var(--accent); border-radius: 2px; pointer-events: none; }
.box span { position: absolute; left: 0; bottom: 100%; background: var(--accent); color: #06121d; font-size: .75em;
            padding: 0 .3em; white-space: nowrap; }
.box.pending { border-style: dashed; }
.region-pics { display: flex; gap: .4em; } .region-pics img, img.thumb { height: 4em; width: auto; background: #000; }
pre { white-space: pre-wrap; margin: .5em 0 0; font-size: .85em; }
"""

REGIONS_CARD = """<section class="panels"><div class="card" id="regions-card" hidden><h2>Regions</h2>
<table id="regions"></table>
<p id="region-note" class="empty">Move, then drag on the live view to set where a region is.</p>
<pre id="region-config"></pre><div id="review"></div></div></section>
"""

CAPTURE_FROM = """<div class="row"><select id="capture-from" aria-label="capture from">
<option value="">capture the whole frame</option></select></div>
"""

REGIONS_JS = r"""
let regionList = [], moving = null, dragFrom = null;
function captureFrom() {
  const region = $("capture-from").value;
  return region ? "&region=" + encodeURIComponent(region) : "";
}
function fraction(e) {
  const r = $("boxes").getBoundingClientRect();
  return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)),
          Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))];
}
function boxDiv(box, text, cls) {
  const div = node("div", undefined, "box " + (cls || ""));
  [div.style.left, div.style.top, div.style.width, div.style.height] = box.map((v) => (100 * v) + "%");
  if (text) div.append(node("span", text));
  return div;
}
function drawBoxes(extra) {
  $("boxes").replaceChildren(...regionList.map((r) => boxDiv(r.box, r.name + ": " + (r.state || "?"),
                                                              r.settled ? "" : "pending")), ...(extra || []));
}
function regionRow(r) {
  const tr = node("tr"), pics = node("td", undefined, "region-pics"), act = node("td");
  const stamp = encodeURIComponent(r.since || "") + "&s=" + (r.score || 0);
  for (const [path, alt] of [["region.jpg", "crop"], ["region-input.png", "model input"]]) {
    const img = node("img");
    img.alt = r.name + " " + alt;
    img.title = alt;
    img.src = url(path, "name=" + encodeURIComponent(r.name) + "&since=" + stamp);
    img.onerror = () => img.remove();
    pics.append(img);
  }
  const move = node("button", moving === r.name ? "Drag\u2026" : "Move", "small");
  move.type = "button";
  move.addEventListener("click", () => { moving = moving === r.name ? null : r.name; renderRegions(); });
  const look = node("button", "Review", "small");
  look.type = "button";
  look.addEventListener("click", () => review(r.name));
  act.append(move, look);
  const change = r.difference == null ? "not yet looked at" : "change " + r.difference.toFixed(1) + " of " + r.change;
  const since = r.since ? " since " + clock(r.since) : "";
  tr.append(node("td", r.name), node("td", (r.state || "no steady state yet") + since + "; " + change +
                                    "; " + r.model), pics, act);
  return tr;
}
function renderRegions() {
  $("regions-card").hidden = !regionList.length;
  const table = node("table");
  table.id = "regions";
  table.append(...regionList.map(regionRow));
  $("regions").replaceWith(table);
  $("boxes").className = moving ? "moving" : "";
  const select = $("capture-from"), chosen = select.value;
  select.replaceChildren(node("option", "capture the whole frame"), ...regionList.map((r) => {
    const option = node("option", "capture region " + r.name);
    option.value = r.name;
    return option;
  }));
  select.firstChild.value = "";
  select.value = regionList.some((r) => r.name === chosen) ? chosen : "";
  drawBoxes();
}
async function regions() {
  try {
    const response = await fetch(url("api/regions"), {cache: "no-store"});
    if (response.ok) { regionList = (await response.json()).regions; renderRegions(); }
  } catch (error) { /* the status shows what is wrong */ }
}
$("boxes").addEventListener("pointerdown", (e) => {
  if (!moving) return;
  dragFrom = fraction(e);
  $("boxes").setPointerCapture(e.pointerId);
});
function dragged(e) {
  const [x0, y0] = dragFrom, [x1, y1] = fraction(e);
  return [Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0)];
}
$("boxes").addEventListener("pointermove", (e) => { if (dragFrom) drawBoxes([boxDiv(dragged(e), "", "")]); });
$("boxes").addEventListener("pointerup", async (e) => {
  if (!dragFrom) return;
  const [x, y, w, h] = dragged(e), name = moving;
  dragFrom = null;
  moving = null;
  if (w < 0.01 || h < 0.01) { renderRegions(); return; }
  const query = "name=" + encodeURIComponent(name) + "&x=" + x.toFixed(4) + "&y=" + y.toFixed(4) +
                "&w=" + w.toFixed(4) + "&h=" + h.toFixed(4);
  try {
    const moved = await post("api/region", query);
    $("region-note").textContent = name + " moved until the config is read again; to keep it there, put this in " +
                                   "the config in place of its box:";
    $("region-config").textContent = moved.config;
  } catch (error) { $("region-note").textContent = error.message; }
  regions();
});
async function review(name) {
  const box = $("review");
  try {
    const response = await fetch(url("api/review", "name=" + encodeURIComponent(name)), {cache: "no-store"});
    if (!response.ok) throw new Error(response.status + " " + response.statusText);
    const answers = (await response.json()).answers;
    box.replaceChildren(node("h2", "Review: " + name + " (where its state changed, or unsure)"),
                        ...(answers.length ? answers.map((a) => reviewItem(name, a))
                                           : [node("p", "nothing to review yet", "empty")]));
  } catch (error) { box.textContent = error.message; }
}
function reviewItem(name, a) {
  const div = node("div", undefined, "row"), img = node("img", undefined, "thumb"), pick = node("select");
  const keep = node("button", "Keep as example", "small");
  img.src = url("review.jpg", "name=" + encodeURIComponent(name) + "&id=" + a.id);
  img.alt = a.state;
  for (const option of $("upload-class").options) {
    if (!option.value) continue;
    const copy = node("option", option.value);
    copy.value = option.value;
    pick.append(copy);
  }
  pick.setAttribute("aria-label", "class");
  keep.type = "button";
  keep.disabled = !pick.options.length;
  keep.title = pick.options.length ? "" : "name the classes in the teach panel first";
  keep.addEventListener("click", async () => {
    const query = "name=" + encodeURIComponent(name) + "&id=" + a.id + "&class=" + encodeURIComponent(pick.value);
    try { renderTeach(await post("api/teach/keep", query)); keep.textContent = "Kept"; keep.disabled = true; }
    catch (error) { keep.textContent = error.message; }
  });
  const said = a.state + (a.score == null ? "" : " " + a.score.toFixed(2)) + " (" + a.why + ")";
  div.append(img, node("span", clock(a.time) + " " + said), pick, keep);
  return div;
}
window.addEventListener("load", () => { regions(); setInterval(regions, 2000); });
"""


def with_regions(page: str) -> str:
    """``page`` with the regions' card, overlay, capture choice, style and script in their places."""
    parts = {'<img id="live" alt="live view">': '<div class="framed"><img id="live" alt="live view">'
                                                '<div id="boxes"></div></div>',
             "</style>": REGIONS_CSS + "</style>",
             "</main>": REGIONS_CARD + "</main>",
             '<table id="classes"></table>': CAPTURE_FROM + '<table id="classes"></table>',
             "</script>": REGIONS_JS + "</script>"}
    for marker, replacement in parts.items():
        assert page.count(marker) == 1, f"the page has no single {marker!r}"
        page = page.replace(marker, replacement)
    return page
