// The live board: listens to the room's server-sent events and redraws the pairs, the help queue and the
// mistakes panel. Two views share this file: the projected board (/board?code=...) and the facilitator's
// (/admin?token=..., with the controls). Every text a pair sent (its name, a mistake, a message) goes in
// with textContent, never as HTML, and the server's Content-Security-Policy forbids inline scripts besides.
"use strict";

const params = new URLSearchParams(location.search);
const facilitator = document.body.dataset.view === "facilitator";
const code = params.get("code") || "";
const token = params.get("token") || "";
let board = null;          // the last snapshot from the server
let receivedAt = 0;        // when the last snapshot arrived (browser seconds)

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value; else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "";
  seconds = Math.max(0, Math.round(seconds));
  const m = Math.floor(seconds / 60), s = seconds % 60;
  if (m >= 60) return `${Math.floor(m / 60)} h ${m % 60} min`;
  return `${m}:${String(s).padStart(2, "0")}`;
}

function elapsed() { return Date.now() / 1000 - receivedAt; }

// ------------------------------------------------------------------ a pair's row

function kataCell(pair) {
  const kata = pair.kata;
  if (!kata) return el("div", { class: "kata", role: "cell" }, "all done");
  return el("div", { class: "kata", role: "cell" }, `${kata.number} ${kata.title}`, el("div", { class: "sub" }, kata.id));
}

function failureCell(pair) {
  const text = pair.failure || (pair.kata ? (pair.state === "passed" ? "passing" : (pair.state || "")) : "");
  return el("div", { class: "failure", role: "cell" }, text);
}

function progressCell(pair) {
  const tracks = el("div", { class: "tracks" });
  for (const track of pair.tracks) {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${track.total ? (100 * track.done / track.total) : 0}%`;
    tracks.append(el("div", { class: "track", title: `${track.number} ${track.name}: ${track.done}/${track.total}` }, fill));
  }
  return el("div", { class: "progress sub" }, `${pair.done}/${pair.total} katas`, tracks);
}

function flagCell(pair) {
  const cell = el("div", { class: "flag", role: "cell" });
  if (pair.stuck) cell.append(el("span", { class: "badge", title: pair.stuck }, "STUCK"), " ");
  if (pair.hand) cell.append(el("span", { class: "badge hand", title: "in the help queue" }, `hand #${pair.hand}`), " ");
  if (pair.silent) cell.append(el("span", { class: "badge silent", title: "stuck, and has not asked" }, "silent hand"));
  if (pair.stuck) cell.append(el("div", { class: "reason" }, pair.stuck));
  if (pair.presence !== "active") cell.append(el("div", { class: "reason" }, pair.presence));
  return cell;
}

function row(pair) {
  const classes = ["row", `state-${(pair.state || "none").replace(" ", "-")}`, `presence-${pair.presence}`];
  if (pair.stuck) classes.push("stuck");
  const tr = el("div", { class: classes.join(" "), role: "row", "data-key": pair.key });
  const name = el("div", { class: "name", role: "cell", dir: "auto" }, pair.name);
  tr.append(
    name,
    kataCell(pair),
    failureCell(pair),
    el("div", { class: "runs", role: "cell" }, pair.kata ? `${pair.runs} run${pair.runs === 1 ? "" : "s"}` : ""),
    el("div", { class: "time", role: "cell", "data-since": String(pair.on_kata_s), "data-seen": String(pair.last_seen_s) },
       el("span", { class: "on" }, duration(pair.on_kata_s + elapsed())),
       el("div", { class: "seen" }, `seen ${duration(pair.last_seen_s + elapsed())} ago`)),
    flagCell(pair),
  );
  tr.children[1].append(progressCell(pair));
  if (facilitator) {
    tr.append(el("div", { class: "admin" },
      el("button", { class: "remove", type: "button", title: "remove this row", "data-remove": pair.key }, "×")));
  }
  return tr;
}

// ------------------------------------------------------------- the side panel

function mistake(item) {
  const where = item.kata ? `${item.kata.number} ${item.kata.title}` : "";
  return el("li", {},
            el("span", { class: "count" }, `${item.pairs} of ${item.of} pairs`), ": ",
            el("span", { class: "text" }, item.mistake),
            el("div", { class: "where" }, where, el("span", { class: "ago" }, ` · ${duration(item.ago_s)} ago`)));
}

function hand(item) {
  const where = item.kata ? `${item.kata.number} ${item.kata.title}` : "no kata yet";
  const li = el("li", { "data-hand": String(item.id) },
                el("span", { class: "who", dir: "auto" }, item.name), " ",
                el("span", { class: "ago" }, `waiting ${duration(item.waiting_s)}`),
                el("div", { class: "message" }, item.message),
                el("div", { class: "where" }, where, item.failure ? ` · ${item.failure}` : ""));
  if (facilitator) li.append(el("button", { type: "button", "data-done": String(item.id) }, "done"));
  return li;
}

function draw() {
  if (!board) return;
  document.getElementById("rows").replaceChildren(...board.pairs.map(row));
  document.getElementById("pair-count").textContent = board.pairs.length;
  document.getElementById("stuck-count").textContent = board.stuck;
  document.getElementById("hand-count").textContent = board.queue.length;
  document.getElementById("empty").classList.toggle("hidden", board.pairs.length > 0);
  document.getElementById("queue").replaceChildren(...board.queue.map(hand));
  document.getElementById("no-queue").classList.toggle("hidden", board.queue.length > 0);
  document.getElementById("mistakes").replaceChildren(...board.mistakes.map(mistake));
  document.getElementById("no-mistakes").classList.toggle("hidden", board.mistakes.length > 0);
  document.getElementById("mistake-minutes").textContent = board.settings.mistake_minutes;
  const hide = document.getElementById("hide-names");
  if (hide) hide.textContent = board.settings.hide_names ? "show names on the projector" : "hide names on the projector";
  tick();
}

function tick() {
  if (!board) return;
  const since = elapsed();
  for (const cell of document.querySelectorAll(".row .time")) {
    cell.querySelector(".on").textContent = duration(Number(cell.dataset.since) + since);
    cell.querySelector(".seen").textContent = `seen ${duration(Number(cell.dataset.seen) + since)} ago`;
  }
  const rotation = board.rotation, box = document.getElementById("rotation");
  if (!rotation.minutes) {
    box.classList.add("hidden");
    return;
  }
  box.classList.remove("hidden");
  const period = rotation.minutes * 60;
  let left = rotation.left_s - since, round = rotation.round;
  while (left <= 0) { left += period; round += 1; }
  const swapping = period - left < 30;   // the first half minute of a round: everyone sees "swap now"
  box.classList.toggle("swap", swapping);
  document.getElementById("rotation-label").textContent = swapping ? "swap driver & navigator" : "swap driver & navigator in";
  document.getElementById("rotation-left").textContent = swapping ? "now!" : duration(left);
  document.getElementById("rotation-round").textContent = `round ${round}`;
}

// ---------------------------------------------------------------- the stream
// An EventSource retries by itself after a dropped connection, but gives up for good after an answer
// that is not a stream (a 503 while too many boards are open, a restart's brief refusal). So the board
// reconnects itself: after any error, and when the heartbeat (every 5 s) has not come for 15 s.

let source = null, retryDelay = 1000, retryTimer = null, lastMessage = 0;

function setLive(live, text) {
  const badge = document.getElementById("live");
  badge.textContent = text;
  badge.classList.toggle("offline", !live);
}

function connect() {
  if (source) source.close();
  clearTimeout(retryTimer);
  const url = facilitator ? `/admin/events?token=${encodeURIComponent(token)}` : `/events?code=${encodeURIComponent(code)}`;
  source = new EventSource(url);
  source.onopen = () => { setLive(true, "live"); };
  source.onerror = () => {
    setLive(false, "reconnecting…");
    if (source.readyState === EventSource.CLOSED) reconnectSoon();
  };
  source.onmessage = (event) => {
    retryDelay = 1000;
    lastMessage = Date.now();
    board = JSON.parse(event.data);
    receivedAt = Date.now() / 1000;
    document.body.dataset.version = board.version;
    setLive(true, "live");
    draw();
  };
  lastMessage = Date.now();
}

function reconnectSoon() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(connect, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 15000);
}

function watchdog() {
  if (Date.now() - lastMessage > 15000) {
    setLive(false, "reconnecting…");
    reconnectSoon();
    lastMessage = Date.now();
  }
}

// ------------------------------------------------------------ the facilitator

async function admin(path, body) {
  const answer = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Authorization": `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer.ok ? answer.json() : null;
}

function katasRow(kata) {
  const top = kata.mistakes.length ? `${kata.mistakes[0].mistake} (${kata.mistakes[0].pairs})` : "";
  return el("tr", {},
            el("td", {}, `${kata.number} ${kata.title}`),
            el("td", {}, `${kata.passed} / ${kata.reached}`),
            el("td", {}, kata.median_minutes === null ? "–" : String(kata.median_minutes)),
            el("td", {}, kata.median_runs === null ? "–" : String(kata.median_runs)),
            el("td", {}, String(kata.unnamed_failures)),
            el("td", {}, top));
}

async function refreshKatas() {
  const report = await admin("/admin/katas");
  if (report) document.getElementById("katas").replaceChildren(...report.katas.map(katasRow));
}

function setUpFacilitator() {
  document.body.addEventListener("click", async (event) => {
    const target = event.target;
    if (!(target instanceof HTMLElement)) return;
    if (target.dataset.remove) await admin(`/admin/pairs/${encodeURIComponent(target.dataset.remove)}/remove`, {});
    if (target.dataset.done) await admin(`/admin/hands/${encodeURIComponent(target.dataset.done)}/done`, {});
    if (target.id === "hide-names") await admin("/admin/settings", { hide_names: !(board && board.settings.hide_names) });
    if (target.id === "restart-timer") await admin("/admin/rotation", { minutes: board ? board.settings.rotate_minutes : 10 });
  });
  const links = document.getElementById("exports");
  for (const kind of ["csv", "json", "png", "katas.html", "katas.csv"]) {
    links.append(el("a", { href: `/admin/export.${kind}?token=${encodeURIComponent(token)}` }, `export.${kind}`));
  }
  refreshKatas();
  setInterval(refreshKatas, 15000);
}

if (facilitator) setUpFacilitator();
connect();
setInterval(tick, 1000);
setInterval(watchdog, 5000);
