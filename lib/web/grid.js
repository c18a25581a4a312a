// Draws the review grid from the JSON lib/web/grid.py sends; clicks and keys go back as one `action` event.
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
  '"': "&quot;", "'": "&#39;"}[c]));

function card(c, t, where) {
  const cls = "mg-card" + (c.review === "approved" ? " mg-approved" : c.review === "rejected" ? " mg-rejected" : "");
  let body;
  if (c.img) body = `<img class="mg-pic" src="${esc(c.img)}" alt="${esc(c.alt)}" loading="eager" decoding="async">`;
  else body = `<div class="mg-note${c.status === "failed" ? " mg-failed" : ""}">${esc(c.note)}</div>`;
  const head = !c.head ? "" : c.head.rest ? `<div class="mg-cap"><b>${esc(c.head.bold)}</b>${esc(c.head.rest)}</div>`
    : `<div class="mg-cap" style="font-weight: 600">${esc(c.head.bold)}</div>`;
  const review = c.review === "approved" ? ` · <b>${esc(t.approved)}</b>` : c.review === "rejected" ? ` · <b>${esc(t.rejected)}</b>` : "";
  const cap = c.caption ? `<div class="mg-cap">${esc(c.caption)}${review}</div>` : "";
  let score = "";
  if (c.score) {
    const parts = c.score.parts.map((p) => `<li>${esc(p)}</li>`).join("");
    score = `<details class="mg-score"><summary>${esc(c.score.title)}</summary><div>${esc(c.score.help)}</div><ul>${parts}</ul></details>`;
  }
  let buttons = "";
  if (c.buttons) {
    const b = (act, label, tip, on) => `<button type="button" data-do="${act}" data-id="${c.id}" title="${esc(tip)}"` +
      ` class="${on ? "mg-on" : ""}">${label}</button>`;
    const done = c.status === "done";
    buttons = `<div class="mg-buttons">` + (done ? b("approve", "✓", t.approve, c.review === "approved") +
      b("reject", "✗", t.reject, c.review === "rejected") : "") + b("again", "↻", t.again, false) +
      (done ? b("compare", "⇆", t.compare, false) : "") + `</div>`;
  }
  return `<div class="${cls}" tabindex="0" data-id="${c.id}" data-where="${where}">${head}${body}${cap}${score}${buttons}</div>`;
}

function draw(root, data) {
  const t = data.texts;
  const cols = data.columns.length;
  let html = `<div class="mg-grid" style="grid-template-columns: minmax(6rem, 10rem) repeat(${cols}, minmax(0, 15rem))">`;
  html += `<div></div>` + data.columns.map((c) => `<div class="mg-colhead">${esc(c)}</div>`).join("");
  for (const row of data.rows) {
    const loop = row.loop ? `<button type="button" data-loop="1" title="${esc(t.loop_help)}">${esc(t.loop)}</button>` +
      `<img hidden data-frames='${esc(JSON.stringify(row.loop))}' alt="${esc(t.loop_help)}">` : "";
    html += `<div class="mg-label"><div>${esc(row.label)}</div>${loop}</div>`;
    for (const slot of row.slots) html += slot ? card(slot.shown, t, "grid") : `<div class="mg-empty"></div>`;
    for (const strip of row.strips) {
      html += `<div class="mg-strip" role="group" aria-label="${esc(strip.title)}"><b>${esc(strip.title)}</b>` +
        `<div class="mg-strip-cards">${strip.attempts.map((c) => card(c, t, "strip")).join("")}</div></div>`;
    }
  }
  root.innerHTML = html + `</div>`;
}

function play(img) {
  const frames = JSON.parse(img.dataset.frames);
  let i = 0;
  const step = () => {
    if (img.hidden || !img.isConnected) return;
    img.src = frames[i][0];
    const wait = frames[i][1];
    i = (i + 1) % frames.length;
    img._timer = setTimeout(step, wait);
  };
  step();
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector(".mg-root");
  if (!root) {
    root = document.createElement("div");
    root.className = "mg-root";
    parentElement.appendChild(root);
  }
  const focused = root.querySelector(".mg-card:focus");
  const keep = focused ? [focused.dataset.id, focused.dataset.where] : root._keep;
  draw(root, data);
  if (keep) {
    const again = root.querySelector(`.mg-card[data-id="${keep[0]}"][data-where="${keep[1]}"]`);
    if (again) again.focus({ preventScroll: true });
  }
  const send = (act, id) => {
    root._keep = [id, (root.querySelector(".mg-card:focus") || {}).dataset?.where || "grid"];
    root.querySelectorAll(`button[data-id="${id}"]`).forEach((b) => { b.disabled = true; });
    setTriggerValue("action", { do: act, id: id, at: Date.now() });
  };
  root.onclick = (e) => {
    const button = e.target.closest("button");
    if (!button) return;
    if (button.dataset.loop) {
      const img = button.parentElement.querySelector("img[data-frames]");
      img.hidden = !img.hidden;
      clearTimeout(img._timer);
      if (!img.hidden) play(img);
      return;
    }
    if (button.dataset.do) send(button.dataset.do, button.dataset.id);
  };
  root.onkeydown = (e) => {
    const c = e.target.closest(".mg-card");
    if (!c || e.target.tagName === "BUTTON" && (e.key === "Enter" || e.key === " ")) return;
    const keys = { a: "approve", x: "reject", r: "again", c: "compare", Enter: "compare" };
    const act = keys[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    if (act && c.querySelector(`button[data-do="${act}"]`)) {
      e.preventDefault(); e.stopPropagation(); send(act, c.dataset.id); return;
    }
    const move = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: data.columns.length, ArrowUp: -data.columns.length }[e.key];
    if (move) {
      const all = [...root.querySelectorAll('.mg-card[data-where="grid"]')];
      const next = all[all.indexOf(c) + move];
      if (next) { e.preventDefault(); e.stopPropagation(); next.focus(); }
    }
  };
}
