"""The labelling page's script (plain JavaScript, no libraries, no network beyond its server).

Every action changes the page at once and goes into a queue that is sent in order, numbered,
so a burst of keypresses is neither dropped nor duplicated (the server skips numbers it has
already applied). Frame steps use the video's real presentation times from the server.
"""

SCRIPT = r"""
'use strict';
const CFG = JSON.parse(document.getElementById('cfg').textContent);
const TOKEN = new URLSearchParams(location.search).get('token') || '';
const CLIENT = Math.random().toString(36).slice(2) + Date.now().toString(36);
const $ = (id) => document.getElementById(id);
const video = $('video');
const S = { labels: {}, segments: {}, model: null };
const hist = [];            // this page's actions, newest last, for undo
const queue = [];           // actions not yet confirmed by the server
let seq = 0, applied = 0, sending = false, order = CFG.videos.map((v) => v.id);
let cur = null, info = null, pendingStart = null, selected = -1, modelVersion = 0;
const keyOf = CFG.keys, classOfKey = {};
for (const c of CFG.classes) classOfKey[keyOf[c]] = c;

async function api(method, path, body) {
  const r = await fetch(path, { method, headers: { 'X-Vidscope-Token': TOKEN,
    'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const data = await r.json();
  if (!r.ok) throw Object.assign(new Error(data.error || r.statusText), { data, status: r.status });
  return data;
}

// ------------------------------------------------------------------ saving, in order

function send(action) {
  action.seq = ++seq;
  queue.push(action);
  showSave();
  flush();
}
async function flush() {
  if (sending || !queue.length) return;
  sending = true;
  try {
    const r = await api('POST', '/api/actions', { client: CLIENT, actions: queue.slice() });
    applied = r.applied;
    while (queue.length && queue[0].seq <= r.applied) queue.shift();
    if (!queue.length) { S.labels = r.state.labels; S.segments = r.state.segments; }
    $('save').classList.remove('error');
  } catch (e) {
    $('save').classList.add('error');
    const refused = e.status === 400 && e.data && typeof e.data.applied === 'number';
    if (refused) { // the server refused one action: drop it, keep the rest in order
      applied = e.data.applied;
      while (queue.length && queue[0].seq <= e.data.applied) queue.shift();
      queue.shift();
      renumber();
    }
    $('save').textContent = 'not saved: ' + e.message + (refused ? '' : ' (retrying)');
    await new Promise((ok) => setTimeout(ok, refused ? 0 : 1000));
  }
  sending = false;
  showSave();
  render();
  if (queue.length) flush();
}
function renumber() { // after a refused action, the server expects the next number again
  queue.forEach((a, i) => { a.seq = applied + i + 1; });
  seq = applied + queue.length;
}
function showSave() {
  const el = $('save');
  el.dataset.pending = String(queue.length);
  document.body.dataset.pending = String(queue.length);
  if (!el.classList.contains('error')) el.textContent = queue.length ? 'saving…' : 'saved';
}

// ------------------------------------------------------------------ queue and filter

function matches(id) {
  const f = $('filter').value, lab = S.labels[id];
  if (f === 'all') return true;
  if (f === 'unlabelled') return lab === undefined;
  if (f === 'labelled') return lab !== undefined;
  return lab === f.slice(6);
}
function scoreOf(id) {
  const m = S.model && S.model.scores[String(id)];
  return m && m.uncertainty !== undefined ? m : null;
}
function sortQueue() {
  order = CFG.videos.map((v) => v.id);
  if ($('order').value === 'uncertain') {
    const u = (id) => (scoreOf(id) ? scoreOf(id).uncertainty : -1);
    order.sort((a, b) => u(b) - u(a) || a - b);
  }
}
function next() {
  const i = cur === null ? -1 : order.indexOf(cur);
  for (let j = i + 1; j < order.length; j++) if (matches(order[j])) return show(order[j]);
  show(null);
}
function first() {
  const id = order.find((v) => matches(v) && S.labels[v] === undefined);
  show(id !== undefined ? id : order.find(matches) ?? null);
}

// ------------------------------------------------------------------ showing a video

async function show(id) {
  cur = id; info = null; pendingStart = null; selected = -1;
  video.pause(); video.removeAttribute('src'); video.load();
  card(null);
  if (id === null) {
    card('Nothing left here', 'every video in this view is done; change the filter above');
    return render();
  }
  const v = CFG.videos[id];
  if (v.error) card('Cannot show this video', v.error);
  render();
  if (v.error) return;
  try {
    const got = await api('GET', '/api/video/' + id);
    if (cur !== id) return;
    info = got;
    if (got.error) return card('Cannot show this video', got.error);
    video.src = '/media/' + id + '?token=' + encodeURIComponent(TOKEN);
    video.playbackRate = Number($('speed').dataset.rate || 1);
  } catch (e) {
    if (cur === id) card('Cannot show this video', e.message);
  }
  render();
}
function card(title, text) {
  $('card').hidden = !title;
  $('card-title').textContent = title || '';
  $('card-text').textContent = text || '';
}
video.addEventListener('error', () => {
  if (cur !== null && video.getAttribute('src'))
    card('Cannot play this video', 'the browser could not decode it');
});

// ------------------------------------------------------------------ time and frames

function frameIndex() {
  const t = info && info.times_s;
  if (!t || !t.length) return -1;
  const now = rel() + 1e-6;
  let lo = 0, hi = t.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (t[mid] <= now) lo = mid; else hi = mid - 1;
  }
  return lo;
}
function rel() { return video.currentTime - ((info && info.start_s) || 0); } // first frame: 0
function nowS() { const i = frameIndex(); return i < 0 ? rel() : info.times_s[i]; }
function seekFrame(i) {
  const t = info.times_s;
  i = Math.max(0, Math.min(t.length - 1, i));
  const gap = i + 1 < t.length ? t[i + 1] - t[i] : 0.04;
  video.pause();
  video.currentTime = (info.start_s || 0) + t[i] + Math.min(0.25 * gap, 0.002);
}
function seekTo(s) {
  if (!info || !info.times_s) return;
  const t = Math.max(0, Math.min(info.duration_s - 1e-3, s));
  video.currentTime = (info.start_s || 0) + t;
}

// ------------------------------------------------------------------ actions

function label(c) {
  if (cur === null || !$('card').hidden) return; // no label for a clip nobody could see
  hist.push({ type: 'label', video: cur, before: S.labels[cur] });
  S.labels[cur] = c;
  send({ type: 'label', video: cur, label: c });
  next();
}
function undo() {
  const h = hist.pop();
  if (!h) return;
  const store = h.type === 'label' ? S.labels : S.segments;
  const none = h.before === undefined || (Array.isArray(h.before) && !h.before.length);
  if (none) delete store[h.video];
  else store[h.video] = h.before;
  send({ type: 'undo' });
  if (h.video !== cur) show(h.video); else render();
}
function setSegments(segs) {
  const before = S.segments[cur] ? S.segments[cur].map((s) => s.slice()) : [];
  segs = segs.filter((s) => s[1] > s[0]).sort((a, b) => a[0] - b[0]);
  hist.push({ type: 'segments', video: cur, before });
  S.segments[cur] = segs;
  send({ type: 'segments', video: cur, segments: segs });
}
function mark(edge) {
  if (!CFG.segments || cur === null || !info || !info.times_s) return;
  const t = nowS(), segs = (S.segments[cur] || []).map((s) => s.slice());
  if (selected >= 0 && selected < segs.length) {
    const s = segs[selected];
    if (edge === 0 && t < s[1]) s[0] = t;
    if (edge === 1 && t > s[0]) s[1] = t;
    setSegments(segs);
    selected = S.segments[cur].findIndex((x) => x[0] === s[0] && x[1] === s[1]);
  } else if (edge === 0) {
    pendingStart = t;
  } else if (pendingStart !== null && t > pendingStart) {
    segs.push([pendingStart, t]);
    pendingStart = null;
    setSegments(segs);
  }
  render();
}
function deleteSegment(i) {
  const segs = (S.segments[cur] || []).filter((_, j) => j !== i);
  selected = -1;
  setSegments(segs);
  render();
}
function setRate(r) {
  video.playbackRate = r;
  $('speed').dataset.rate = String(r);
  $('speed').textContent = r + '×';
}

document.addEventListener('keydown', (e) => {
  if (e.target.tagName === 'SELECT' || e.ctrlKey || e.metaKey || e.altKey) return;
  const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  const has = info && info.times_s;
  let done = true;
  if (classOfKey[k] !== undefined) { if (!e.repeat) label(classOfKey[k]); }
  else if (k === 'z') undo();
  else if (k === 's') next();
  else if (k === '[') mark(0);
  else if (k === ']') mark(1);
  else if (k === ',' && has) seekFrame(frameIndex() - 1);
  else if (k === '.' && has) seekFrame(frameIndex() + 1);
  else if (k === 'ArrowLeft' && has) seekTo(rel() - (e.shiftKey ? 5 : 1));
  else if (k === 'ArrowRight' && has) seekTo(rel() + (e.shiftKey ? 5 : 1));
  else if (k === '1' || k === '2' || k === '4') setRate(Number(k));
  else if (k === ' ') { if (video.paused) video.play().catch(() => {}); else video.pause(); }
  else if ((k === 'Delete' || k === 'Backspace') && selected >= 0) deleteSegment(selected);
  else if (k === 'Escape') { selected = -1; pendingStart = null; render(); }
  else done = false;
  if (done) e.preventDefault();
});

// ------------------------------------------------------------------ drawing

function fmt(s) { return s.toFixed(3) + ' s'; }
function render() {
  const total = CFG.videos.length, n = Object.keys(S.labels).length;
  $('progress').textContent = n + ' / ' + total + ' labelled';
  const v = cur === null ? null : CFG.videos[cur];
  $('name').textContent = v ? v.name : '';
  $('pos').textContent = v ? '#' + (order.indexOf(cur) + 1) + ' of ' + order.length : '';
  const lab = v ? S.labels[cur] : undefined;
  $('current').textContent = lab === undefined ? 'none' : lab;
  $('current').className = lab === undefined ? '' : 'set';
  const m = v && scoreOf(cur);
  const p = m && m.positive ? ' (p ' + m.positive + ' ' + m.score.toFixed(2) + ')' : '';
  $('score').textContent = m ? 'model: ' + m.label + (p || ' ' + m.score.toFixed(2)) : '';
  drawTime();
  drawSegments();
}
function drawTime() {
  const i = frameIndex();
  const pts = i < 0 ? null : info.times_s[i];
  $('time').textContent = pts === null ? '–' : fmt(pts);
  $('time').dataset.pts = pts === null ? '' : String(pts);
  $('frame').textContent = i < 0 ? '–' : (i + 1) + ' / ' + info.times_s.length;
  const svg = $('timeline'), cursor = svg.querySelector('.cursor');
  if (cursor && info) cursor.setAttribute('x1', x(rel())), cursor.setAttribute('x2', x(rel()));
}
function x(t) { return info && info.duration_s ? (1000 * t) / info.duration_s : 0; }
function drawSegments() {
  const svg = $('timeline'), list = $('segs');
  const segs = (cur !== null && S.segments[cur]) || [];
  let html = '';
  const m = cur !== null && S.model && S.model.scores[String(cur)];
  if (m && m.curve && info) {
    const y = (j) => (54 - 50 * m.curve.s[j]).toFixed(1);
    const pts = m.curve.t.map((t, j) => x(t).toFixed(1) + ',' + y(j));
    html += '<polyline class="curve" points="' + pts.join(' ') + '"/>';
  }
  segs.forEach((s, j) => {
    html += '<rect class="seg' + (j === selected ? ' sel' : '') + '" data-i="' + j + '" x="' +
      x(s[0]) + '" width="' + Math.max(1, x(s[1]) - x(s[0])) + '" y="8" height="40"/>';
  });
  if (pendingStart !== null) html += '<line class="pending" x1="' + x(pendingStart) + '" x2="' +
    x(pendingStart) + '" y1="0" y2="56"/>';
  html += '<line class="cursor" x1="0" x2="0" y1="0" y2="56"/>';
  svg.innerHTML = html;
  list.replaceChildren(...segs.map((s, j) => {
    const li = document.createElement('li');
    li.className = j === selected ? 'sel' : '';
    li.textContent = fmt(s[0]) + ' – ' + fmt(s[1]) + ' ';
    li.onclick = () => { selected = j === selected ? -1 : j; render(); };
    const b = document.createElement('button');
    b.textContent = '✕'; b.title = 'delete segment';
    b.onclick = (e) => { e.stopPropagation(); deleteSegment(j); };
    li.append(b);
    return li;
  }));
  drawTime();
}
$('timeline').addEventListener('click', (e) => {
  const r = e.currentTarget.getBoundingClientRect();
  const seg = e.target.closest('rect.seg');
  if (seg) { const j = Number(seg.dataset.i); selected = j === selected ? -1 : j; return render(); }
  if (info) seekTo(((e.clientX - r.left) / r.width) * info.duration_s);
});
(function tick() { drawTime(); requestAnimationFrame(tick); })();

// ------------------------------------------------------------------ model and start

function legend() {
  const keys = CFG.classes.map((c) => [keyOf[c], c, 'cls']);
  keys.push(['z', 'undo'], ['s', 'skip'], ['space', 'play/pause'], [', .', 'frame −/+'],
    ['← →', '−/+ 1 s'], ['1 2 4', 'speed']);
  if (CFG.segments) keys.push(['[ ]', 'segment start/end'], ['Del', 'delete selected']);
  $('keys').replaceChildren(...keys.map(([k, what, cls]) => {
    const el = document.createElement('span');
    el.className = 'key ' + (cls || '');
    const kb = document.createElement('kbd');
    kb.textContent = k;
    el.append(kb, document.createTextNode(what));
    return el;
  }));
  const f = $('filter');
  for (const [v, t] of [['all', 'all'], ['unlabelled', 'unlabelled'], ['labelled', 'labelled'],
    ...CFG.classes.map((c) => ['label:' + c, 'label ' + c])]) f.add(new Option(t, v));
  if (CFG.model) $('order').add(new Option('most uncertain first', 'uncertain'));
  for (const el of [f, $('order')]) el.onchange = () => { el.blur(); sortQueue(); first(); };
}
async function poll() {
  try {
    const st = await api('GET', '/api/state');
    S.model = st.model;
    const s = st.model.status;
    $('model').textContent = 'model: ' + s.state + (s.message ? ' — ' + s.message : '');
    $('model').dataset.version = String(s.version || 0);
    if ((s.version || 0) !== modelVersion) {
      modelVersion = s.version || 0;
      if ($('order').value === 'uncertain') sortQueue();
    }
    render();
  } catch (e) { $('model').textContent = 'model: ' + e.message; }
  setTimeout(poll, 1500);
}
async function start() {
  legend();
  const st = await api('GET', '/api/state');
  S.labels = st.labels; S.segments = st.segments; S.model = st.model || null;
  sortQueue();
  first();
  document.body.dataset.ready = '1';
  if (CFG.model) poll();
}
start().catch((e) => card('Cannot start', e.message));
"""
