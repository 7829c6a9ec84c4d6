// `ticketctl dashboard` in a real browser, with the blog app up: Debian's chromium, headless,
// driven by playwright-core. Checks what a user sees: refused without the login token; six pods
// Running; a pod deleted in the UI replaced by a Running one within 2 s; comments scaled to 3;
// a log line a pod writes after the page loaded found by the search; a post's way through the
// services in the Traffic view (ingress → posts → event bus → its four deliveries); a POST from
// another site refused. Prints the first load time (token URL → six Running pods on screen).
//
//   node dashboard.mjs --url http://127.0.0.1:PORT/?token=T --ingress http://127.0.0.1:PORT
//       [--artifacts DIR] [--chromium /usr/bin/chromium]
//
// Exit status: 0 pass, 1 the dashboard did not behave, 2 usage.

import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const usage = 'usage: node dashboard.mjs --url URL --ingress http://127.0.0.1:PORT [--artifacts DIR] [--chromium PATH]';
let options;
try {
  ({ values: options } = parseArgs({
    options: {
      url: { type: 'string' },
      ingress: { type: 'string' },
      artifacts: { type: 'string' },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
      timeout: { type: 'string', default: '30000' },
      pid: { type: 'string' },
    },
  }));
} catch (err) {
  console.error(`${err.message}\n${usage}`);
  process.exit(2);
}
if (!options.url || !options.ingress) {
  console.error(usage);
  process.exit(2);
}
const timeout = Number(options.timeout);
const origin = new URL(options.url).origin;
const ingress = new URL(options.ingress);

let step = 'starting';
const stepTo = (what) => {
  step = what;
  console.log(`dashboard.mjs: ${what}`);
};

// A request through the ingress with the blog's Ingress host, as curl -H 'Host: posts.com' would.
function throughIngress(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = request({ host: ingress.hostname, port: ingress.port, method, path,
      headers: { Host: 'posts.com', 'Content-Type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

// The control plane's resident memory, for the figures (--pid).
const rss = () => {
  if (!options.pid) return 'unknown';
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${options.pid}/status`, 'utf8'));
  return m ? `${m[1]} KiB` : 'unknown';
};

const podRows = (page, prefix, extra = '') => page.locator(`#pods tr.pod[data-name^="${prefix}"]${extra}`);
async function waitForCount(locator, n, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const count = await locator.count();
    if (count === n) return;
    if (Date.now() > deadline) throw new Error(`${what}: ${count} instead of ${n} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const profile = mkdtempSync(join(tmpdir(), 'ticketctl-chromium-'));
let context;
let page;
let failed = false;
const shot = async (name) => {
  if (!options.artifacts || !page) return;
  mkdirSync(options.artifacts, { recursive: true });
  const file = join(options.artifacts, `dashboard-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`dashboard.mjs: screenshot ${file}`);
};
try {
  stepTo(`launching ${options.chromium}`);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    headless: true,
    timeout,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP posts.com 127.0.0.1'],
  });
  context.setDefaultTimeout(timeout);
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (msg) => console.log(`page console.${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => console.log(`page error: ${err.message}`));
  // Anything the page asks for beyond its own origin breaks "nothing fetched from outside".
  page.on('request', (req) => {
    if (!req.url().startsWith(origin)) console.log(`page requested ${req.url()} outside ${origin}`);
  });

  stepTo('opening the dashboard without the token');
  const refused = await page.goto(`${origin}/`);
  if (!refused || refused.status() !== 401)
    throw new Error(`without the token the dashboard answered ${refused ? refused.status() : 'nothing'}, expected 401`);

  stepTo('opening the login URL');
  const started = Date.now();
  await page.goto(options.url);
  if (page.url() !== `${origin}/`) throw new Error(`the token stayed in the address bar: ${page.url()}`);
  await page.locator('#tabs button[data-view="pods"]').click();
  stepTo('waiting for six pods Running and ready');
  await waitForCount(page.locator('#pods tr.pod[data-status="Running"][data-ready="true"]'), 6, timeout, 'Running pods');
  console.log(`dashboard.mjs: first load ${Date.now() - started} ms (login URL to six Running pods)`);
  console.log(`dashboard.mjs: control plane RSS with the page open: ${rss()}`);
  await shot('pods');
  await page.locator('#tabs button[data-view="graph"]').click();
  await page.locator('#graph .node.ok').first().waitFor();
  await shot('graph');
  await page.locator('#tabs button[data-view="pods"]').click();

  stepTo('deleting a posts pod in the UI');
  const victim = await podRows(page, 'posts-depl-').first().getAttribute('data-name');
  const command = await podRows(page, 'posts-depl-').first().locator('.action code').textContent();
  if (command !== `ticketctl delete pod/${victim}`) throw new Error(`the delete button says "${command}"`);
  const deletedAt = Date.now();
  await podRows(page, 'posts-depl-').first().locator('.delete-btn').click();
  const replacement = page.locator(`#pods tr.pod[data-name^="posts-depl-"]:not([data-name="${victim}"])[data-status="Running"]`);
  await waitForCount(replacement, 1, 2000, 'replacement posts pods Running within 2 s');
  console.log(`dashboard.mjs: replacement Running ${Date.now() - deletedAt} ms after the click`);
  const notice = await page.locator('#notice-command').textContent();
  if (!notice.includes(`ticketctl delete pod/${victim}`)) throw new Error(`the notice says "${notice}"`);

  stepTo('scaling comments-depl to 3');
  const comments = page.locator('#deployments tr.deployment[data-name="comments-depl"]');
  await comments.locator('.scale-input').fill('3');
  const scaleCommand = await comments.locator('.action code').first().textContent();
  if (scaleCommand !== 'ticketctl scale deployment/comments-depl --replicas=3')
    throw new Error(`the scale button says "${scaleCommand}"`);
  await comments.locator('.scale-btn').click();
  await waitForCount(podRows(page, 'comments-depl-', '[data-status="Running"]'), 3, timeout, 'comments pods Running');
  await shot('scaled');

  stepTo('searching the logs for a line written after the page loaded');
  await page.locator('#tabs button[data-view="logs"]').click();
  // Only the rows in sight are elements, so the count of matches is what says none was there.
  await page.locator('#log-search').fill('received event postcreated');
  await page.locator('#log-count', { hasText: 'lines match' }).waitFor();
  const before = await page.locator('#log-count').textContent();
  if (!before.startsWith('0 of ')) throw new Error(`a PostCreated line was there before any post was created: ${before}`);
  await page.locator('#log-search').fill('');
  // The replacement posts pod must be Ready before the ingress routes to it.
  await waitForCount(podRows(page, 'posts-depl-', '[data-ready="true"]'), 1, timeout, 'ready posts pods');
  const created = await throughIngress('POST', '/posts/create', { title: 'seen in the dashboard' });
  if (created.status !== 201) throw new Error(`POST /posts/create through the ingress: ${created.status} ${created.body}`);
  await page.locator('#log-search').fill('postcreated');
  await page.locator('#log-count', { hasText: 'lines match' }).waitFor();  // the search applied
  const found = page.locator('#log-lines .line[data-pod^="event-bus-depl-"]', { hasText: 'Received Event PostCreated' });
  await found.first().waitFor();
  const other = await page.locator('#log-lines .line').filter({ hasNotText: /PostCreated/i }).count();
  if (other !== 0) throw new Error(`the search shows ${other} lines without the searched text`);
  await shot('logs');

  stepTo('feeding the log view 10,000 lines a second for 2 s');
  // The page's own batching under load (the server's side is the pods' files): the longest gap
  // between animation frames says whether it stayed responsive.
  const load = await page.evaluate(async () => {
    let last = performance.now(), worst = 0, frames = 0, running = true;
    const tick = (t) => { worst = Math.max(worst, t - last); last = t; frames++; if (running) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    const start = performance.now();
    for (let batch = 0; batch < 20; batch++) {
      const lines = [];
      for (let i = 0; i < 1000; i++) lines.push([`load-${i % 4}`, `synthetic line ${batch}-${i} postcreated-not`]);
      addLines(lines);
      await new Promise((r) => setTimeout(r, 100));
    }
    running = false;
    return { ms: Math.round(performance.now() - start), worst: Math.round(worst), frames,
      dom: document.querySelectorAll('#log-lines .line').length };
  });
  console.log(`dashboard.mjs: 20,000 lines in ${load.ms} ms: ${load.frames} frames, longest frame gap ${load.worst} ms, ${load.dom} lines in the DOM`);
  if (load.dom > 200) throw new Error(`the log view holds ${load.dom} rows, more than are in sight`);

  stepTo('watching a post cross the services in the Traffic view');
  await page.locator('#tabs button[data-view="traffic"]').click();
  await page.locator('#view-traffic[data-subscribed="true"]').waitFor();
  // The path of a post: the ingress to posts, posts' publish to the event bus, and the event
  // bus's four deliveries. New connects reach the observing relay once the pods' preload table
  // names the tap, a moment after the subscription; connections made before it (the post of the
  // log step: Node's HTTP client keeps them open, and Node's server closes them after 5 s idle)
  // keep their direct path. So when a post was not seen whole, the next comes 6.5 s after it,
  // on new connections.
  const hops = [
    ['ingress', 'posts-clusterip-srv/posts-depl-', 'POST /posts/create', '201'],
    ['posts-depl-', 'event-bus-srv/event-bus-depl-', 'POST /events', '200'],
    ...['posts-clusterip-srv/posts-depl-', 'comments-srv/comments-depl-', 'query-srv/query-depl-',
      'moderation-srv/moderation-depl-'].map((to) => ['event-bus-depl-', to, 'POST /events', '200']),
  ];
  const shownHops = async () => {
    const rows = await page.locator('#traffic tbody tr.exchange').evaluateAll((trs) =>
      trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    return hops.filter(([from, to, request, status]) => rows.some((r) =>
      r[1].startsWith(from) && r[2].startsWith(to) && r[3] === request && r[4] === status));
  };
  const tapStarted = Date.now();
  for (let post = 1; ; post++) {
    const postedAt = Date.now();
    const made = await throughIngress('POST', '/posts/create', { title: `tapped ${post}` });
    if (made.status !== 201) throw new Error(`POST /posts/create through the ingress: ${made.status} ${made.body}`);
    const until = Date.now() + 2000;
    while ((await shownHops()).length < hops.length && Date.now() < until)
      await new Promise((r) => setTimeout(r, 100));
    const seen = await shownHops();
    if (seen.length === hops.length) {
      console.log(`dashboard.mjs: the Traffic view showed a post's six hops ${Date.now() - tapStarted} ms after the tab opened (${post} post(s))`);
      break;
    }
    if (Date.now() - tapStarted > timeout) {
      const missing = hops.filter((h) => !seen.includes(h)).map((h) => `${h[0]} → ${h[1]} ${h[2]} ${h[3]}`);
      throw new Error(`the Traffic view never showed: ${missing.join('; ')}`);
    }
    await new Promise((r) => setTimeout(r, Math.max(0, postedAt + 6500 - Date.now())));
  }
  console.log(`dashboard.mjs: control plane RSS with the page open and a tap active: ${rss()}`);
  await shot('traffic');

  stepTo('posting to the dashboard from another site');
  const attacker = await context.newPage();
  await attacker.goto(`http://posts.com:${ingress.port}/`);
  const answer = attacker.waitForResponse((r) => r.url() === `${origin}/api/action`);
  await attacker.evaluate(async (target) => {
    await fetch(target, { method: 'POST', mode: 'no-cors', credentials: 'include',
      headers: { 'Content-Type': 'text/plain' },
      body: JSON.stringify({ action: 'scale', namespace: 'default', name: 'comments-depl', replicas: 0 }) })
      .catch(() => {});
  }, `${origin}/api/action`);
  const status = (await answer).status();
  if (status !== 401 && status !== 403) throw new Error(`the cross-site POST got ${status}`);
  console.log(`dashboard.mjs: cross-site POST refused with ${status}`);
  await attacker.close();
  // That it changed nothing (comments-depl still has 3 replicas) the calling test checks.
  console.log('dashboard.mjs: ok');
} catch (err) {
  failed = true;
  console.error(`dashboard.mjs: FAILED while ${step}: ${err.message.split('\n')[0]}`);
  await shot('failure').catch(() => {});
} finally {
  await context?.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
