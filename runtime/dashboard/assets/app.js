// The ticketctl dashboard's page: plain JS, no framework, nothing fetched from elsewhere.
// State arrives as server-sent events (/api/watch: a snapshot after each change), logs as
// batches of [pod, line] (/api/logs). Actions POST with the session's CSRF token.
'use strict';

const LOG_RING = 50000;   // lines kept for search
const $ = (sel) => document.querySelector(sel);
let csrf = '';
const scaleDrafts = new Map();  // namespace/name → replicas typed, not yet applied
let state = { pods: [], deployments: [], services: [], ingresses: [], events: [] };

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

// --- tabs -------------------------------------------------------------------------------
for (const b of document.querySelectorAll('#tabs button')) {
  b.addEventListener('click', () => {
    for (const o of document.querySelectorAll('#tabs button')) o.classList.toggle('active', o === b);
    for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== `view-${b.dataset.view}`;
    if (b.dataset.view === 'graph') drawGraph();
    if (b.dataset.view === 'logs') rebuildLogs();
  });
}

// --- status colours ---------------------------------------------------------------------
function podClass(p) {
  if (p.deleting) return 'off';
  if (p.isReady) return 'ok';
  // The failing reasons of runtime/manifest/reasons.h: CrashLoopBackOff, Error, OOMKilled,
  // ContainerStatusUnknown, BuildFailed, RunContainerError, ErrImageNotMapped, ErrDockerfile...
  if (/Crash|Err|Failed|OOM|BackOff|Unknown/.test(p.status + ' ' + p.reason)) return 'bad';
  return 'warn';
}
const matches = (selector, labels) =>
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => (labels || {})[k] === v);
// The server matched the Deployment's whole selector (matchExpressions too).
const podsOf = (d) => state.pods.filter((p) => p.namespace === d.namespace && d.pods.includes(p.name));
function deploymentClass(d) {
  const pods = podsOf(d);
  if (d.replicas > 0 && d.readyReplicas >= d.replicas && pods.every((p) => p.isReady || p.deleting)) return 'ok';
  if (pods.some((p) => podClass(p) === 'bad')) return 'bad';
  return d.replicas === 0 ? 'off' : 'warn';
}
function serviceClass(s) {
  if (Object.keys(s.selector).length === 0) return 'off';
  const pods = state.pods.filter((p) => p.namespace === s.namespace && matches(s.selector, p.labels));
  if (pods.some((p) => p.isReady)) return 'ok';
  return pods.length ? 'bad' : 'warn';
}

// --- YAML panel -------------------------------------------------------------------------
async function showYaml(resource, namespace, name) {
  $('#yaml-title').textContent = `${resource}/${name}`;
  $('#yaml-command').textContent =
    `ticketctl get ${resource}/${name} -o yaml${namespace === 'default' ? '' : ' -n ' + namespace}`;
  $('#yaml-text').textContent = 'loading…';
  $('#yaml-panel').hidden = false;
  const q = new URLSearchParams({ resource, namespace, name });
  const res = await fetch(`/api/yaml?${q}`);
  $('#yaml-text').textContent = res.ok ? await res.text() : `error: ${(await res.json()).error}`;
}
$('#yaml-close').addEventListener('click', () => { $('#yaml-panel').hidden = true; });
const objectLink = (resource, o, text) =>
  el('a', { class: 'object', onclick: () => showYaml(resource, o.namespace, o.name) }, text ?? o.name);

// --- actions ----------------------------------------------------------------------------
const nsFlag = (ns) => (ns === 'default' ? '' : ` -n ${ns}`);
const commands = {
  delete: (a) => `ticketctl delete pod/${a.name}${nsFlag(a.namespace)}`,
  restart: (a) => `ticketctl rollout restart deployment/${a.name}${nsFlag(a.namespace)}`,
  scale: (a) => `ticketctl scale deployment/${a.name} --replicas=${a.replicas}${nsFlag(a.namespace)}`,
};
function notice(text, command, error) {
  $('#notice').hidden = false;
  $('#notice').classList.toggle('error', !!error);
  $('#notice-text').textContent = text;
  $('#notice-command').textContent = command ? `same as: ${command}` : '';
}
async function act(action) {
  notice(`running: ${commands[action.action](action)}`);
  const res = await fetch('/api/action', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
    body: JSON.stringify(action),
  });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (res.ok) notice(body.message, body.command);
  else notice(`failed: ${body.error}`, body.command, true);
}
function actionCell(action, label) {
  const code = el('code', {}, commands[action.action](action));
  return el('td', { class: 'action' },
    el('button', { class: `${action.action}-btn`, title: code.textContent, onclick: () => act(action) }, label),
    code);
}

// --- pods, deployments, events ------------------------------------------------------------
function renderPods() {
  const body = $('#pods tbody');
  body.replaceChildren(...state.pods.map((p) => el('tr',
    { class: 'pod', dataset: { name: p.name, status: p.status, ready: String(p.isReady) } },
    el('td', {}, objectLink('pods', p)),
    el('td', {}, p.ready),
    el('td', { class: `status-${podClass(p)}` }, p.status),
    el('td', {}, p.restarts),
    el('td', {}, p.ip),
    el('td', {}, p.age),
    el('td', {}, p.reason),
    el('td', { class: 'error' }, p.errorLine),
    actionCell({ action: 'delete', namespace: p.namespace, name: p.name }, 'Delete'))));
  // Rows are kept and updated in place, so an input being typed in never leaves the page: a
  // live update in the middle of a fill would otherwise lose its focus and selection.
  const rows = state.deployments.map(deploymentRow);
  const live = new Set(state.deployments.map((d) => `${d.namespace}/${d.name}`));
  for (const key of deploymentRows.keys()) if (!live.has(key)) deploymentRows.delete(key);
  const deps = $('#deployments tbody');
  if (rows.length !== deps.children.length || rows.some((r, i) => deps.children[i] !== r))
    deps.replaceChildren(...rows);
}
const deploymentRows = new Map();  // namespace/name → { tr, status, input, code, d }
function deploymentRow(d) {
  const key = `${d.namespace}/${d.name}`;
  let row = deploymentRows.get(key);
  if (!row) {
    const input = el('input', { type: 'number', min: '0', max: '100', class: 'scale-input' });
    row = { input, code: el('code', {}), status: el('td', {}), d };
    input.addEventListener('input', () => {
      scaleDrafts.set(key, input.value);
      row.code.textContent = commands.scale({ ...row.d, replicas: input.value });
    });
    const scale = el('td', { class: 'action' }, input, ' ',
      el('button', { class: 'scale-btn', onclick: () => {
        scaleDrafts.delete(key);
        act({ action: 'scale', namespace: d.namespace, name: d.name, replicas: Number(input.value) });
      } }, 'Scale'),
      row.code);
    row.tr = el('tr', { class: 'deployment', dataset: { name: d.name } },
      el('td', {}, objectLink('deployments', d)),
      row.status,
      scale,
      actionCell({ action: 'restart', namespace: d.namespace, name: d.name }, 'Restart'));
    deploymentRows.set(key, row);
  }
  row.d = d;
  // A number being typed survives the live update.
  const value = scaleDrafts.has(key) ? scaleDrafts.get(key) : String(d.replicas);
  if (row.input !== document.activeElement && row.input.value !== value) row.input.value = value;
  row.code.textContent = commands.scale({ ...d, replicas: row.input.value });
  row.status.className = `status-${deploymentClass(d)}`;
  row.status.textContent = `${d.readyReplicas}/${d.replicas}`;
  return row.tr;
}
function renderEvents() {
  const events = [...state.events].sort((a, b) => (a.last < b.last ? 1 : -1));
  $('#events tbody').replaceChildren(...events.map((e) => el('tr', {},
    el('td', {}, e.last), el('td', { class: e.type === 'Warning' ? 'status-warn' : '' }, e.type),
    el('td', {}, e.reason), el('td', {}, e.object), el('td', {}, String(e.count)),
    el('td', {}, e.message))));
}

// --- graph: four columns of boxes, lines between related ones -----------------------------
function drawGraph() {
  const columns = $('#graph-columns');
  const node = (resource, o, cls, title, sub) =>
    el('div', { class: `node ${cls}`, dataset: { key: `${resource}/${o.namespace}/${o.name}` },
      onclick: () => showYaml(resource, o.namespace, o.name) }, title, el('small', {}, sub));
  const edges = [];
  const rules = [];
  for (const ing of state.ingresses)
    ing.rules.forEach((r, i) => {
      const key = `ingresses/${ing.namespace}/${ing.name}#${i}`;
      rules.push(el('div', { class: 'node ok', dataset: { key }, onclick: () => showYaml('ingresses', ing.namespace, ing.name) },
        `${r.host || '*'}${r.path}`, el('small', {}, `→ ${r.service}:${r.port}`)));
      edges.push([key, `services/${ing.namespace}/${r.service}`]);
    });
  const services = state.services.filter((s) => Object.keys(s.selector).length > 0);
  for (const s of services)
    for (const d of state.deployments)
      if (d.namespace === s.namespace && matches(s.selector, d.selector))
        edges.push([`services/${s.namespace}/${s.name}`, `deployments/${d.namespace}/${d.name}`]);
  for (const d of state.deployments)
    for (const p of podsOf(d)) edges.push([`deployments/${d.namespace}/${d.name}`, `pods/${p.namespace}/${p.name}`]);
  const column = (title, nodes) => el('div', { class: 'column' }, el('h3', {}, title), ...nodes);
  columns.replaceChildren(
    column('Ingress rules', rules),
    column('Services', services.map((s) => node('services', s, serviceClass(s), s.name, `${s.type} ${s.clusterIP}:${s.ports.join(',')}`))),
    column('Deployments', state.deployments.map((d) => node('deployments', d, deploymentClass(d), d.name, `${d.readyReplicas}/${d.replicas} ready`))),
    column('Pods', state.pods.map((p) => node('pods', p, podClass(p), p.name, `${p.status} ${p.ip}`))));
  const svg = $('#graph-lines');
  const base = $('#graph').getBoundingClientRect();
  const box = new Map();
  for (const n of columns.querySelectorAll('.node')) box.set(n.dataset.key, n.getBoundingClientRect());
  const ns = 'http://www.w3.org/2000/svg';
  svg.replaceChildren(...edges.filter(([a, b]) => box.has(a) && box.has(b)).map(([a, b]) => {
    const from = box.get(a), to = box.get(b);
    const line = document.createElementNS(ns, 'line');
    line.setAttribute('x1', from.right - base.left); line.setAttribute('y1', from.top + from.height / 2 - base.top);
    line.setAttribute('x2', to.left - base.left); line.setAttribute('y2', to.top + to.height / 2 - base.top);
    return line;
  }));
}
window.addEventListener('resize', () => { if (!$('#view-graph').hidden) drawGraph(); });

function render() {
  renderPods();
  renderEvents();
  if (!$('#view-graph').hidden) drawGraph();
  updateLogPods();
}

// --- logs: a ring buffer for search; only the rows in sight are in the DOM ----------------
// Every line the ring holds that passes the pod toggles and the search is in `shown`, in order;
// the box is a spacer as tall as all of them, and only the rows within the scrolled-to window
// (plus a margin) are elements. Drawing a frame so costs the same at 10 lines/s as at 10,000:
// building and laying out thousands of rows per frame was what made the view fall behind.
const ring = new Array(LOG_RING);
let ringStart = 0, ringSize = 0;
const hidden = new Set();          // pods toggled off
const colours = new Map();
let scheduled = false;
let search = '';
let shown = [], shownStart = 0;     // matching lines, oldest first, from shown[shownStart]
const ROW = 16;                     // px: the row height app.css gives #log-lines .line
const MARGIN = 20;                  // rows drawn above and below the window

function colourOf(pod) {
  if (!colours.has(pod)) {
    let h = 0;
    for (const ch of pod) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
    colours.set(pod, `hsl(${h % 360} 70% ${55 + (h >> 9) % 20}%)`);
  }
  return colours.get(pod);
}
const shows = ([pod, text]) => !hidden.has(pod) && (!search || text.toLowerCase().includes(search));
function lineElement([pod, text]) {
  const div = el('div', { class: 'line', dataset: { pod } });
  const tag = el('span', { class: 'pod' }, pod);
  tag.style.color = colourOf(pod);
  div.append(tag);
  const i = search ? text.toLowerCase().indexOf(search) : -1;
  if (i < 0) div.append(text);
  else div.append(text.slice(0, i), el('mark', {}, text.slice(i, i + search.length)), text.slice(i + search.length));
  return div;
}
const logSpacer = el('div', { id: 'log-spacer' });
const logRows = el('div', { id: 'log-rows' });
$('#log-lines').append(logSpacer, logRows);
$('#log-lines').addEventListener('scroll', () => {
  const box = $('#log-lines');
  // Scrolling away from the bottom stops following; back at the bottom follows again.
  $('#log-follow').checked = box.scrollTop + box.clientHeight >= box.scrollHeight - ROW;
  scheduleLogs();
});
function scheduleLogs() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(flushLogs); }
}
function addLines(lines) {
  for (const l of lines) {
    if (ringSize < LOG_RING) ring[(ringStart + ringSize++) % LOG_RING] = l;
    else {
      // The oldest line leaves the ring; if it was shown it is the first shown one.
      if (shownStart < shown.length && shown[shownStart] === ring[ringStart]) shownStart++;
      ring[ringStart] = l;
      ringStart = (ringStart + 1) % LOG_RING;
    }
    if (shows(l)) shown.push(l);
  }
  if (shownStart > LOG_RING) { shown = shown.slice(shownStart); shownStart = 0; }
  scheduleLogs();
}
function flushLogs() {
  scheduled = false;
  if (!$('#view-logs').hidden) {
    const box = $('#log-lines');
    const count = shown.length - shownStart;
    logSpacer.style.height = `${count * ROW}px`;
    if ($('#log-follow').checked) box.scrollTop = count * ROW;
    const first = Math.max(0, Math.floor(box.scrollTop / ROW) - MARGIN);
    const last = Math.min(count, Math.ceil((box.scrollTop + box.clientHeight) / ROW) + MARGIN);
    logRows.style.transform = `translateY(${first * ROW}px)`;
    const rows = [];
    for (let i = first; i < last; i++) rows.push(lineElement(shown[shownStart + i]));
    logRows.replaceChildren(...rows);
  }
  updateLogPods();
  updateCount();
}
function rebuildLogs() {
  shown = [];
  shownStart = 0;
  for (let i = 0; i < ringSize; i++) {
    const l = ring[(ringStart + i) % LOG_RING];
    if (shows(l)) shown.push(l);
  }
  scheduleLogs();
}
function updateCount() {
  const matching = shown.length - shownStart;
  $('#log-count').textContent = search ? `${matching} of ${ringSize} lines match` : `${ringSize} lines`;
}
let knownPods = '';
function updateLogPods() {
  const names = [...new Set([...state.pods.map((p) => p.name), ...colours.keys()])].sort();
  const key = names.join(' ') + '|' + [...hidden].join(' ');
  if (key === knownPods) return;
  knownPods = key;
  $('#log-pods').replaceChildren(...names.map((pod) => {
    const box = el('input', { type: 'checkbox' });
    box.checked = !hidden.has(pod);
    box.addEventListener('change', () => {
      if (box.checked) hidden.delete(pod); else hidden.add(pod);
      knownPods = '';
      updateLogPods();
      rebuildLogs();
    });
    const label = el('label', { class: hidden.has(pod) ? 'off' : '', dataset: { pod } }, box, ' ', pod);
    label.style.borderColor = colourOf(pod);
    return label;
  }));
}
let searchTimer;
$('#log-search').addEventListener('input', (e) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { search = e.target.value.toLowerCase(); rebuildLogs(); }, 120);
});

// --- live connections -------------------------------------------------------------------
function connect() {
  const watch = new EventSource('/api/watch');
  watch.addEventListener('state', (e) => {
    state = JSON.parse(e.data);
    $('#connection').textContent = 'live';
    $('#connection').className = 'ok';
    render();
  });
  watch.onerror = () => { $('#connection').textContent = 'reconnecting…'; $('#connection').className = 'bad'; };
  const logs = new EventSource('/api/logs');
  logs.addEventListener('logs', (e) => addLines(JSON.parse(e.data)));
}

// --- traffic: the tap's exchanges (/api/traffic), newest first, the last TRAFFIC_ROWS -----
// Kept to this section: the stream opens when the Traffic tab is first shown and again when
// another target is tapped; a click on a row shows its headers and bodies in the side panel.
const TRAFFIC_ROWS = 500;
let traffic = [];        // newest first
let trafficSource = null;
let trafficFilter = '';
const shortName = (qualified, ns) => (qualified.startsWith(`${ns}/`) ? qualified.slice(ns.length + 1) : qualified);
function trafficEnds(x) {
  const ns = $('#traffic-namespace').value || 'default';
  const s = x.source, d = x.destination;
  const from = s.pod ? shortName(s.pod, ns) : x.via === 'ingress' ? 'ingress' : `${s.ip}:${s.port}`;
  const pod = shortName(d.pod, ns), svc = shortName(d.service, ns);
  const to = svc ? (pod ? `${svc}/${pod}` : svc) : pod || (d.ip ? `${d.ip}:${d.port}` : '?');
  return [from, to];
}
const trafficText = (x) => [...trafficEnds(x), x.method, x.path, x.host, String(x.status)].join(' ').toLowerCase();
const kib = (n) => (n < 1024 ? `${n}B` : `${(n / 1024).toFixed(1)}KiB`);
const pad = (n, w = 2) => String(n).padStart(w, '0');
const localTime = (rfc) => {  // the time of day here, to the millisecond, as `ticketctl tap`
  const t = new Date(rfc);
  return `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}.${pad(t.getMilliseconds(), 3)}`;
};
function trafficRow(x) {
  const [from, to] = trafficEnds(x);
  const http = x.kind === 'http';
  const status = http ? (x.status || '-') : 'TCP';
  const cls = !http ? '' : x.status >= 500 || !x.status ? 'status-bad' : x.status >= 400 ? 'status-warn' : 'status-ok';
  return el('tr', { class: 'exchange', dataset: { seq: String(x.seq) }, onclick: () => showExchange(x) },
    el('td', {}, localTime(x.time)), el('td', {}, from), el('td', {}, to),
    el('td', {}, http ? `${x.method} ${x.path}` : 'connection'),
    el('td', { class: cls }, String(status)),
    el('td', {}, x.latencyMs < 1000 ? `${x.latencyMs.toFixed(1)}ms` : `${(x.latencyMs / 1000).toFixed(1)}s`),
    el('td', {}, `${kib(x.requestBytes)}→${kib(x.responseBytes)}`));
}
function renderTraffic() {
  const shown = trafficFilter ? traffic.filter((x) => trafficText(x).includes(trafficFilter)) : traffic;
  $('#traffic tbody').replaceChildren(...shown.map(trafficRow));
  $('#traffic-count').textContent = trafficFilter ? `${shown.length} of ${traffic.length}` : `${traffic.length}`;
}
let trafficScheduled = false;
function trafficChanged() {
  if (trafficScheduled) return;
  trafficScheduled = true;
  requestAnimationFrame(() => { trafficScheduled = false; renderTraffic(); });
}
function showExchange(x) {
  const [from, to] = trafficEnds(x);
  const headers = (hs) => hs.map((h) => `  ${h.name}: ${h.value}`).join('\n');
  $('#yaml-title').textContent = x.kind === 'http' ? `${x.method} ${x.path} → ${x.status}` : 'connection';
  $('#yaml-command').textContent = `${from} → ${to}`;
  $('#yaml-text').textContent = [
    `time: ${x.time}   via: ${x.via}   latency: ${x.latencyMs.toFixed(1)}ms`,
    `source: ${x.source.ip}:${x.source.port} ${x.source.pod}`,
    `destination: ${x.destination.ip}:${x.destination.port} ${x.destination.pod} (service ${x.destination.service || '-'})`,
    '', `request headers (${x.requestBytes} bytes in all):`, headers(x.requestHeaders),
    '', 'request body (first KiB):', x.requestBody || '(none)',
    '', `response headers (${x.responseBytes} bytes in all):`, headers(x.responseHeaders),
    '', 'response body (first KiB):', x.responseBody || '(none)',
  ].join('\n');
  $('#yaml-panel').hidden = false;
}
function openTraffic() {
  if (trafficSource) trafficSource.close();
  const target = $('#traffic-target').value.trim() || 'all';
  const namespace = $('#traffic-namespace').value.trim() || 'default';
  $('#traffic-command').textContent = `ticketctl tap${target === 'all' ? '' : ' ' + target}${nsFlag(namespace)}`;
  traffic = [];
  renderTraffic();
  const url = `/api/traffic?${new URLSearchParams({ target, namespace })}`;
  trafficSource = new EventSource(url);
  trafficSource.addEventListener('subscribed', (e) => {
    $('#traffic-count').textContent = `tapping ${JSON.parse(e.data).target}`;
    $('#view-traffic').dataset.subscribed = 'true';
  });
  trafficSource.addEventListener('exchanges', (e) => {
    traffic = JSON.parse(e.data).reverse().concat(traffic).slice(0, TRAFFIC_ROWS);
    trafficChanged();
  });
  trafficSource.addEventListener('dropped', (e) =>
    notice(`the Traffic view fell behind: ${JSON.parse(e.data).count} exchanges were dropped`));
  const source = trafficSource;
  source.onerror = async () => {
    if (source.readyState !== EventSource.CLOSED) return;  // it reconnects by itself
    // Refused (a bad target, too many views): the EventSource cannot read why; one fetch can.
    const stop = new AbortController();
    const res = await fetch(url, { signal: stop.signal }).catch(() => null);
    if (res && !res.ok) {
      const why = (await res.json().catch(() => ({}))).error || `HTTP ${res.status}`;
      notice(`cannot tap ${target}: ${why}`, '', true);
    }
    stop.abort();
  };
}
document.querySelector('#tabs button[data-view="traffic"]').addEventListener('click', () => {
  if (!trafficSource) openTraffic();
});
$('#traffic-apply').addEventListener('click', openTraffic);
$('#traffic-target').addEventListener('keydown', (e) => { if (e.key === 'Enter') openTraffic(); });
let trafficTimer;
$('#traffic-filter').addEventListener('input', (e) => {
  clearTimeout(trafficTimer);
  trafficTimer = setTimeout(() => { trafficFilter = e.target.value.toLowerCase(); renderTraffic(); }, 120);
});

(async () => {
  const res = await fetch('/api/session');
  if (!res.ok) {
    notice('not signed in: run `ticketctl dashboard` and open the URL it prints', '', true);
    return;
  }
  csrf = (await res.json()).csrf;
  connect();
})();
