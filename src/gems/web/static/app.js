// gems serve: the page. Plain JS modules, no framework; every number and sentence comes from the JSON API.
import { drawCurve } from "/static/chart.js";

const $ = (selector) => document.querySelector(selector);
const CONTROLS = ["discount", "tail_share", "per_soundtrack", "k", "scope", "deep_cuts"];

const state = {
  mode: "seeds",
  seeds: [],          // [{track_id, title, soundtrack}]
  user: "",
  sounds: "",         // the sound words typed, searched alone or with the mode's query
  upload: null,       // {file, format} of the last uploaded export
  picks: [],          // the objects of /api/recommend, best first
  facts: new Map(),   // track_id -> /api/tracks object
  playlist: [],       // track ids, in playlist order
  curve: null,
  info: null,
  presets: null,      // each control's value as the model's defaults set it
  asked: 0,           // sequence number of the newest query: older answers are dropped
  suggestions: { text: null, items: [], active: 0 },
};

// ------------------------------------------------------------------------------------------------ API

function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null && item !== "") search.append(key, String(item));
    }
  }
  return search.toString();
}

async function api(path, params = {}, init = undefined) {
  const response = await fetch(`${path}?${query(params)}`, init);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw Object.assign(new Error((body && body.error) || `${response.status} ${response.statusText}`), { status: response.status });
  }
  return body;
}

let token = null;  // the server's token, which uploads carry (only this page can read it: see security.py)

async function post(path, params, body, retry = true) {
  token = token ?? await (await fetch("/api/token")).text();
  try {
    return await api(path, params, { method: "POST", body, headers: { "X-Gems-Token": token } });
  } catch (error) {
    if (error.status !== 403 || !retry) throw error;
    token = null;  // a restarted server has a new one
    return post(path, params, body, false);
  }
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => { timer = null; fn(...args); }, ms);
  };
  wrapped.cancel = () => { clearTimeout(timer); timer = null; };
  return wrapped;
}

function setStatus(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// ------------------------------------------------------------------------------------------------ search

const searchBox = () => $("#search");

async function fetchSuggestions(text) {
  const items = text.trim() ? await api("/api/search", { q: text, limit: 8 }) : [];
  if (searchBox().value === text) {
    state.suggestions = { text, items, active: 0 };
    renderSuggestions();
  }
  return items;
}

const suggestSoon = debounce((text) => fetchSuggestions(text).catch((e) => setStatus(e.message, true)), 150);

function renderSuggestions() {
  const list = $("#suggestions");
  const { items, active } = state.suggestions;
  list.replaceChildren(...items.map((item, i) => el("li", {
    id: `suggestion-${i}`, role: "option", "data-suggestion-id": item.track_id,
    "aria-selected": String(i === active),
    onmousedown: (event) => { event.preventDefault(); pickSeed(item); },
  }, el("span", { text: item.title }), el("div", { class: "sub", text: [item.soundtrack, item.artist].filter(Boolean).join(" · ") }))));
  const open = items.length > 0;
  list.hidden = !open;
  searchBox().setAttribute("aria-expanded", String(open));
  if (open) searchBox().setAttribute("aria-activedescendant", `suggestion-${active}`);
  else searchBox().removeAttribute("aria-activedescendant");
}

function hideSuggestions() {
  state.suggestions = { text: null, items: [], active: 0 };
  renderSuggestions();
}

async function onSearchKey(event) {
  const { items } = state.suggestions;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    if (!items.length) return;
    event.preventDefault();
    const step = event.key === "ArrowDown" ? 1 : -1;
    state.suggestions.active = (state.suggestions.active + step + items.length) % items.length;
    renderSuggestions();
    $(`#suggestion-${state.suggestions.active}`).scrollIntoView({ block: "nearest" });
  } else if (event.key === "Enter") {
    event.preventDefault();
    const text = searchBox().value;
    if (!text.trim()) return;
    suggestSoon.cancel();
    let chosen = state.suggestions.text === text ? items[state.suggestions.active] : null;
    if (!chosen) chosen = (await fetchSuggestions(text).catch(() => []))[0];
    if (chosen) pickSeed(chosen);
    else setStatus(`No track matches “${text}”.`, true);
  } else if (event.key === "Escape") {
    hideSuggestions();
  }
}

function pickSeed(item) {
  if (!state.seeds.some((seed) => seed.track_id === item.track_id)) state.seeds.push(item);
  searchBox().value = "";
  hideSuggestions();
  renderChips();
  recommend();
}

function renderChips() {
  $("#chips").replaceChildren(...state.seeds.map((seed) => el("li", { "data-seed-id": seed.track_id },
    el("span", { text: seed.title }),
    el("button", {
      type: "button", "aria-label": `Remove ${seed.title}`, text: "×",
      onclick: () => {
        state.seeds = state.seeds.filter((s) => s.track_id !== seed.track_id);
        renderChips();
        searchBox().focus();
        recommend();
      },
    }))));
}

// ------------------------------------------------------------------------------------------------ ranking

function controlValue(name) {
  const input = $(`#${name}`);
  return input.type === "checkbox" ? String(input.checked) : input.value;
}

// The controls the listener moved from where the model's defaults put them (none before /api/info has told
// them): the server applies its own defaults, scope included, to everything else.
function controlValues() {
  const values = {};
  if (!state.presets) return values;
  for (const name of CONTROLS) {
    if (controlValue(name) !== state.presets[name]) values[name] = controlValue(name);
  }
  return values;
}

function queryParams() {
  if (state.mode === "user") return { user: state.user };
  if (state.mode === "seeds") return { like: state.seeds.map((seed) => seed.track_id) };
  return {};
}

// Sound words go with whatever the mode asks, or alone (an upload always needs its file).
function hasQuery() {
  if (state.mode === "seeds") return state.seeds.length > 0 || Boolean(state.sounds);
  if (state.mode === "user") return Boolean(state.user) || Boolean(state.sounds);
  return Boolean(state.upload);
}

// The words a track holds at the confidence the server states (/api/info), most probable first: never a word below it.
function confidentWords(pick) {
  const sounds = state.info && state.info.sounds;
  return sounds ? (pick.tags || []).filter((tag) => tag.p >= sounds.confident).map((tag) => tag.word) : [];
}

async function recommend() {
  const asked = ++state.asked;
  if (!hasQuery()) {
    state.picks = [];
    renderGems();
    drawChart();
    setStatus({ seeds: "Pick a track you love, or type the sounds you want, to begin.",
      user: "Give a listener id of the model.", upload: "Choose a listening export to upload." }[state.mode]);
    return;
  }
  setStatus("Finding gems…");
  try {
    let picks;
    if (state.mode === "upload") {
      const form = new FormData();
      form.append("file", state.upload.file);
      picks = await post("/api/history", { ...controlValues(), format: state.upload.format, sounds: state.sounds }, form);
    } else {
      picks = await api("/api/recommend", { ...queryParams(), sounds: state.sounds, ...controlValues() });
    }
    const ids = [...picks.map((p) => p.track_id), ...state.seeds.map((s) => s.track_id)];
    const facts = ids.length ? await api("/api/tracks", { id: ids }) : [];
    const order = picks.length ? await api("/api/playlist", {
      ...queryParams(), track: picks.map((p) => p.track_id), format: "json",
    }) : [];
    if (asked !== state.asked) return;
    state.picks = picks;
    state.facts = new Map(facts.map((f) => [f.track_id, f]));
    state.playlist = order.map((entry) => entry.track_id);
    renderGems();
    renderPlaylist();
    drawChart();
    const tail = picks.filter((p) => p.is_tail).length;
    setStatus(picks.length
      ? `${picks.length} gems, ${tail} from the long tail.`
      : "No gems for this query: loosen the ranking (scope, deep cuts, cap).");
  } catch (error) {
    if (asked === state.asked) setStatus(error.message, true);
  }
}

const recommendSoon = debounce(recommend, 250);

function renderGems() {
  const simulated = state.info && state.info.simulated ? " (simulated)" : "";
  $("#gems").replaceChildren(...state.picks.map((pick) => {
    const facts = state.facts.get(pick.track_id) || {};
    const inPlaylist = state.playlist.includes(pick.track_id);
    return el("li", { "data-track-id": pick.track_id },
      el("h3", {},
        el("span", { class: "title", text: pick.title }),
        pick.is_tail ? el("span", { class: "tail-mark", title: "long tail", "aria-label": "long tail", text: " ◆" }) : null),
      el("p", { class: "meta" },
        el("span", { class: "soundtrack", text: pick.soundtrack || "no soundtrack" }),
        document.createTextNode(" · "),
        el("span", { class: "artist", text: pick.artist || "unknown artist" })),
      el("p", {
        class: "popularity",
        text: `${pick.popularity.toLocaleString()} listeners${simulated} · percentile ${Math.round(pick.popularity_percentile)}`
          + (pick.is_tail ? " · long tail" : ""),
      }),
      confidentWords(pick).length ? el("p", { class: "words", text: `sounds ${confidentWords(pick).join(" · ")}` }) : null,
      el("p", { class: "why", text: pick.why }),
      facts.has_audio
        ? el("audio", { controls: "", preload: "metadata", src: `/api/audio/${encodeURIComponent(pick.track_id)}`, "aria-label": `Preview ${pick.title}` })
        : el("p", { class: "hint muted", text: "no local audio file to preview" }),
      el("div", { class: "gem-actions" }, el("button", {
        type: "button", "aria-pressed": String(inPlaylist),
        text: inPlaylist ? "In the playlist ✓" : "Add to playlist",
        onclick: () => togglePlaylist(pick.track_id),
      })));
  }));
}

// ------------------------------------------------------------------------------------------------ chart

function drawChart() {
  const marks = state.picks.filter((pick) => state.facts.has(pick.track_id))
    .map((pick) => ({ facts: state.facts.get(pick.track_id), kind: "pick" }));
  if (state.mode === "seeds") {
    marks.push(...state.seeds.filter((seed) => state.facts.has(seed.track_id))
      .map((seed) => ({ facts: state.facts.get(seed.track_id), kind: "seed" })));
  }
  drawCurve($("#curve"), state.curve, marks);
}

// ------------------------------------------------------------------------------------------------ playlist

function titleOf(trackId) {
  const facts = state.facts.get(trackId);
  return facts ? `${facts.title}${facts.soundtrack ? ` (${facts.soundtrack})` : ""}` : trackId;
}

function togglePlaylist(trackId) {
  const at = state.playlist.indexOf(trackId);
  if (at >= 0) state.playlist.splice(at, 1);
  else state.playlist.push(trackId);
  renderPlaylist();
  renderGems();
}

function movePlaylist(index, step, focusClass) {
  const to = index + step;
  if (to < 0 || to >= state.playlist.length) return;
  [state.playlist[index], state.playlist[to]] = [state.playlist[to], state.playlist[index]];
  renderPlaylist();
  const target = $(`#playlist-items li:nth-child(${to + 1}) .${focusClass}`);
  if (target) target.focus();
}

function renderPlaylist() {
  const items = state.playlist.map((trackId, i) => el("li", { "data-playlist-id": trackId },
    el("span", { text: titleOf(trackId) }),
    el("span", { class: "moves" },
      el("button", { type: "button", class: "up", "aria-label": `Move ${titleOf(trackId)} up`, text: "↑", onclick: () => movePlaylist(i, -1, "up") }),
      el("button", { type: "button", class: "down", "aria-label": `Move ${titleOf(trackId)} down`, text: "↓", onclick: () => movePlaylist(i, 1, "down") }),
      el("button", { type: "button", class: "remove", "aria-label": `Remove ${titleOf(trackId)} from the playlist`, text: "✕", onclick: () => togglePlaylist(trackId) }))));
  $("#playlist-items").replaceChildren(...items);
  for (const format of ["m3u8", "xspf", "jspf"]) {
    const link = $(`#dl-${format}`);
    if (state.playlist.length) {
      link.href = `/api/playlist?${query({ ...queryParams(), track: state.playlist, order: "keep", format })}`;
      link.removeAttribute("aria-disabled");
    } else {
      link.href = "#";
      link.setAttribute("aria-disabled", "true");
    }
  }
}

async function orderForFlow() {
  if (!state.playlist.length) return;
  try {
    const order = await api("/api/playlist", { ...queryParams(), track: state.playlist, format: "json" });
    state.playlist = order.map((entry) => entry.track_id);
    renderPlaylist();
  } catch (error) {
    setStatus(error.message, true);
  }
}

// ------------------------------------------------------------------------------------------------ set-up

function setMode(mode) {
  state.mode = mode;
  for (const name of ["seeds", "user", "upload"]) $(`#mode-${name}`).hidden = name !== mode;
  renderChips();
  recommend();
}

function showControlValues() {
  for (const name of ["discount", "tail_share"]) $(`#${name}-value`).textContent = Number($(`#${name}`).value).toFixed(2);
}

// Listeners first, then the model's facts: text typed while /api/info is on its way is searched at once.
function listen() {
  searchBox().addEventListener("input", () => suggestSoon(searchBox().value));
  searchBox().addEventListener("keydown", onSearchKey);
  searchBox().addEventListener("blur", () => setTimeout(hideSuggestions, 100));
  for (const radio of document.querySelectorAll("input[name=mode]")) radio.addEventListener("change", () => setMode(radio.value));
  for (const name of CONTROLS) {
    $(`#${name}`).addEventListener(name === "deep_cuts" || name === "scope" ? "change" : "input", () => {
      showControlValues();
      if (hasQuery()) recommendSoon();
    });
  }
  $("#mode-user").addEventListener("submit", (event) => {
    event.preventDefault();
    state.user = $("#user").value.trim();
    recommend();
  });
  $("#mode-upload").addEventListener("submit", (event) => {
    event.preventDefault();
    const file = $("#export").files[0];
    if (!file) { setStatus("Choose a listening export file first.", true); return; }
    state.upload = { file, format: $("#format").value };
    recommend();
  });
  $("#sounds").addEventListener("input", () => {
    state.sounds = $("#sounds").value.trim();
    recommendSoon();
  });
  $("#flow").addEventListener("click", orderForFlow);
  if (document.activeElement === document.body) searchBox().focus();
  if (searchBox().value.trim()) suggestSoon(searchBox().value);  // typed before this script ran
}

async function start() {
  listen();
  try {
    state.info = await api("/api/info");
    state.curve = await api("/api/popularity");
  } catch (error) {
    setStatus(error.message, true);
    return;
  }
  const { info } = state;
  const defaults = info.defaults;
  for (const name of ["discount", "tail_share", "per_soundtrack", "k", "scope"]) $(`#${name}`).value = defaults[name];
  state.presets = Object.fromEntries(CONTROLS.map((name) => [name, controlValue(name)]));  // as the inputs show them
  showControlValues();
  $("#model-info").textContent = `${info.tracks.toLocaleString()} tracks · ${info.listeners.toLocaleString()} listeners`
    + (info.simulated ? " (simulated listening log)" : "");
  $("#format").replaceChildren(...info.formats.map((name) => el("option", { value: name, text: name })));
  $("#upload-note").textContent = `Up to ${Math.round(info.upload_limit / 2 ** 20)} MB; the file is deleted once read.`;
  if (info.sounds) {
    $("#sounds-box").hidden = false;
    $("#sound-words").textContent = `${info.sounds.words.join(", ")}. A word is said of a track from p ${info.sounds.confident}.`;
  }
  drawChart();
  renderPlaylist();
}

document.addEventListener("DOMContentLoaded", start);
