// The live board: listens to /events (server-sent events) and redraws the table and the mistakes panel.
// Every text a pair sent (its name, a mistake's name) goes in with textContent, never as HTML, and the
// server's Content-Security-Policy forbids inline scripts besides: a name cannot become markup.
"use strict";

const code = new URLSearchParams(location.search).get("code") || "";
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

function kataCell(kata) {
  if (!kata) return el("td", { class: "kata" }, "all done");
  return el("td", { class: "kata" }, `${kata.number} ${kata.title}`, el("div", { class: "title kata-id" }, kata.id));
}

function tracksCell(tracks) {
  const cell = el("td", {}, el("div", { class: "tracks" }));
  for (const track of tracks) {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${track.total ? (100 * track.done / track.total) : 0}%`;
    cell.firstChild.append(el("div", { class: "track", title: `${track.number} ${track.name}: ${track.done}/${track.total}` }, fill));
  }
  return cell;
}

function row(pair) {
  const tr = el("tr", { class: `${(pair.state || "").replace(" ", "-")}${pair.stuck ? " stuck" : ""}`, "data-key": pair.key });
  tr.append(
    el("td", { class: "name" }, pair.name),
    kataCell(pair.kata),
    tracksCell(pair.tracks),
    el("td", { class: "done" }, `${pair.done}/${pair.total}`),
    el("td", { class: "time", "data-since": String(pair.on_kata_s) }, duration(pair.on_kata_s + elapsed())),
    el("td", { class: "streak" }, pair.streak ? String(pair.streak) : ""),
    el("td", { class: "flag" }, pair.stuck ? el("span", { class: "badge", title: pair.stuck }, "STUCK") : null,
       pair.stuck ? el("div", { class: "title" }, pair.stuck) : null),
  );
  return tr;
}

function mistake(item) {
  const where = item.kata ? `${item.kata.number} ${item.kata.title}` : "";
  return el("li", {},
            el("span", { class: "count" }, `${item.pairs} of ${item.of} pairs`), ": ",
            el("span", { class: "text" }, item.mistake),
            el("div", { class: "where" }, where, el("span", { class: "ago" }, ` · ${duration(item.ago_s)} ago`)));
}

function draw() {
  if (!board) return;
  const rows = document.getElementById("rows");
  rows.replaceChildren(...board.pairs.map(row));
  document.getElementById("pair-count").textContent = board.pairs.length;
  document.getElementById("stuck-count").textContent = board.stuck;
  document.getElementById("empty").classList.toggle("hidden", board.pairs.length > 0);
  document.getElementById("mistakes").replaceChildren(...board.mistakes.map(mistake));
  document.getElementById("no-mistakes").classList.toggle("hidden", board.mistakes.length > 0);
  document.getElementById("mistake-minutes").textContent = board.settings.mistake_minutes;
  tick();
}

function tick() {
  if (!board) return;
  const since = elapsed();
  for (const cell of document.querySelectorAll("td.time")) {
    cell.textContent = duration(Number(cell.dataset.since) + since);
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

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource(`/events?code=${encodeURIComponent(code)}`);
  source.onopen = () => { live.textContent = "live"; live.classList.remove("offline"); };
  source.onerror = () => { live.textContent = "reconnecting…"; live.classList.add("offline"); };
  source.onmessage = (event) => {
    board = JSON.parse(event.data);
    receivedAt = Date.now() / 1000;
    document.body.dataset.version = board.version;
    draw();
  };
}

connect();
setInterval(tick, 1000);
