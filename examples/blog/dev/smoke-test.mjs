// Smoke test of the blog services without a cluster: node dev/smoke-test.mjs (from examples/blog).
//
// 1. Each service alone, with the Service names unresolvable: it starts, logs "Listening on
//    <port>", answers its routes and CORS preflights, and survives the event bus being away.
// 2. All six together on 127.0.0.1, Service names mapped by dev/resolve-local.cjs: a post, an
//    approved and a rejected ('orange') comment go through moderation into the query view;
//    a restarted query service rebuilds the view from the bus; a query service started before
//    the bus retries until it can replay.
// Every process it starts is stopped before it exits.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const preload = path.join(root, 'dev', 'resolve-local.cjs');
const ports = { posts: 4000, comments: 4001, query: 4002, moderation: 4003, 'event-bus': 4005, client: 3000 };
const running = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function start(name, { mapNames }) {
  const args = mapNames ? ['-r', preload, 'index.js'] : ['index.js'];
  const child = spawn(process.execPath, args, { cwd: path.join(root, name), stdio: ['ignore', 'pipe', 'pipe'] });
  const svc = { name, child, log: '', exited: null };
  child.stdout.on('data', (d) => (svc.log += d));
  child.stderr.on('data', (d) => (svc.log += d));
  child.on('exit', (code, signal) => {
    svc.exited = { code, signal };
    running.delete(svc);
  });
  running.add(svc);
  return svc;
}

async function waitFor(pred, what, timeout = 10000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    if (await pred()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function listening(svc) {
  await waitFor(() => svc.log.includes(`Listening on ${ports[svc.name]}`) || svc.exited, `${svc.name} to listen`);
  assert.equal(svc.exited, null, `${svc.name} exited: ${svc.log}`);
}

async function stop(svc) {
  if (svc.exited) return;
  svc.child.kill('SIGTERM');
  await waitFor(() => svc.exited, `${svc.name} to exit`);
}

const url = (name, p) => `http://127.0.0.1:${ports[name]}${p}`;
async function req(name, method, p, body) {
  const res = await fetch(url(name, p), {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

async function check(title, fn) {
  try {
    await fn();
    console.log(`ok   ${title}`);
  } catch (err) {
    console.log(`FAIL ${title}\n     ${err.stack}`);
    for (const svc of running) console.log(`---- ${svc.name} log ----\n${svc.log}`);
    process.exitCode = 1;
    throw err;
  }
}

async function isolated() {
  for (const name of Object.keys(ports)) {
    const svc = start(name, { mapNames: false });
    try {
      await check(`${name}: starts alone and logs "Listening on ${ports[name]}"`, () => listening(svc));
      await check(`${name}: routes answer with the event bus unreachable`, async () => {
        if (name === 'client') {
          const page = await req(name, 'GET', '/');
          assert.equal(page.status, 200);
          assert.match(page.headers.get('content-type'), /text\/html/);
          for (const id of ['id="post-title"', 'id="create-post"', 'src="/app.js"']) assert.ok(page.text.includes(id), id);
          const deep = await req(name, 'GET', '/some/route');
          assert.equal(deep.status, 200);
          assert.match(deep.headers.get('content-type'), /text\/html/);
          const js = await req(name, 'GET', '/app.js');
          assert.equal(js.status, 200);
          assert.match(js.headers.get('content-type'), /javascript/);
          for (const s of ['post-title', 'comment-input', 'add-comment', 'postId', 'awaiting moderation', 'has been rejected'])
            assert.ok(js.text.includes(s), s);
          return;
        }
        const pre = await fetch(url(name, '/events'), {
          method: 'OPTIONS',
          headers: { Origin: 'http://posts.com', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
        });
        assert.equal(pre.status, 204);
        assert.equal(pre.headers.get('access-control-allow-origin'), '*');
        assert.equal(pre.headers.get('access-control-allow-headers'), 'content-type');
        assert.match(pre.headers.get('access-control-allow-methods'), /POST/);

        const ev = await req(name, 'POST', '/events', { type: 'Unknown', data: {} });
        assert.equal(ev.status, 200);
        assert.equal(ev.headers.get('access-control-allow-origin'), '*');
        assert.deepEqual(ev.json, name === 'event-bus' ? { status: 'OK' } : {});
        assert.equal((await req(name, 'POST', '/events', '{not json')).status, 400);
        assert.equal((await req(name, 'GET', '/nope')).status, 404);

        if (name === 'posts') {
          const created = await req(name, 'POST', '/posts/create', { title: 'alone' });
          assert.equal(created.status, 201);
          assert.match(created.json.id, /^[0-9a-f]{8}$/);
          assert.equal(created.json.title, 'alone');
          assert.deepEqual((await req(name, 'GET', '/posts')).json, { [created.json.id]: created.json });
        }
        if (name === 'comments') {
          const created = await req(name, 'POST', '/posts/abc/comments', { content: 'hi' });
          assert.equal(created.status, 201);
          assert.equal(created.json.length, 1);
          assert.equal(created.json[0].status, 'pending');
          const { id } = created.json[0];
          assert.deepEqual((await req(name, 'GET', '/posts/abc/comments')).json, [{ id, content: 'hi', status: 'pending' }]);
          assert.deepEqual((await req(name, 'GET', '/posts/other/comments')).json, []);
          await req(name, 'POST', '/events', { type: 'CommentModerated', data: { id, postId: 'abc', status: 'approved', content: 'hi' } });
          assert.equal((await req(name, 'GET', '/posts/abc/comments')).json[0].status, 'approved');
          await req(name, 'POST', '/events', { type: 'CommentModerated', data: { id: 'x', postId: 'missing', status: 'approved' } });
        }
        if (name === 'moderation') {
          const r = await req(name, 'POST', '/events', { type: 'CommentCreated', data: { id: '1', postId: 'p', content: 'an orange', status: 'pending' } });
          assert.equal(r.status, 200);
        }
        if (name === 'query') {
          await req(name, 'POST', '/events', { type: 'PostCreated', data: { id: 'p1', title: 'T' } });
          await req(name, 'POST', '/events', { type: 'CommentCreated', data: { id: 'c1', postId: 'p1', content: 'x', status: 'pending' } });
          await req(name, 'POST', '/events', { type: 'CommentCreated', data: { id: 'c1', postId: 'p1', content: 'x', status: 'pending' } });
          await req(name, 'POST', '/events', { type: 'CommentUpdated', data: { id: 'c1', postId: 'p1', content: 'x', status: 'approved' } });
          await req(name, 'POST', '/events', { type: 'CommentCreated', data: { id: 'c2', postId: 'nope', content: 'x', status: 'pending' } });
          assert.deepEqual((await req(name, 'GET', '/posts')).json, {
            p1: { id: 'p1', title: 'T', comments: [{ id: 'c1', content: 'x', status: 'approved' }] },
          });
        }
        if (name === 'event-bus') {
          const all = await req(name, 'GET', '/events');
          assert.deepEqual(all.json, [{ type: 'Unknown', data: {} }]);
          await sleep(300); // let the four forwards fail
        }
        if (name === 'query') await waitFor(() => svc.log.includes('attempt 2/'), 'a retried replay', 5000);
        assert.equal(svc.exited, null, `${name} crashed:\n${svc.log}`);
        assert.ok(!/Unhandled|TypeError|ReferenceError/.test(svc.log), svc.log);
        if (['posts', 'comments', 'moderation', 'event-bus', 'query'].includes(name))
          assert.match(svc.log, /ENOTFOUND|EAI_AGAIN/, `${name} should log the unreachable bus:\n${svc.log}`);
      });
    } finally {
      await stop(svc);
    }
  }
}

async function together() {
  const svcs = {};
  // query first: it must keep retrying until the bus is there.
  svcs.query = start('query', { mapNames: true });
  await listening(svcs.query);
  await sleep(700);
  for (const name of ['posts', 'comments', 'moderation', 'client', 'event-bus']) svcs[name] = start(name, { mapNames: true });
  for (const svc of Object.values(svcs)) await listening(svc);

  await check('query started before the bus retries and then syncs', () =>
    waitFor(() => /Synced 0 events from event-bus/.test(svcs.query.log), 'query to sync', 15000));

  let postId, good, bad;
  await check('post -> PostCreated -> query view', async () => {
    const r = await req('posts', 'POST', '/posts/create', { title: 'First post' });
    assert.equal(r.status, 201);
    postId = r.json.id;
    await waitFor(async () => (await req('query', 'GET', '/posts')).json[postId]?.title === 'First post', 'post in query');
    assert.match(svcs.posts.log, /Received Event PostCreated/);
  });
  await check('comments are moderated: approved and rejected (orange)', async () => {
    good = (await req('comments', 'POST', `/posts/${postId}/comments`, { content: 'nice post' })).json[0].id;
    const list = (await req('comments', 'POST', `/posts/${postId}/comments`, { content: 'I like oranges' })).json;
    bad = list[1].id;
    await waitFor(async () => {
      const c = (await req('query', 'GET', '/posts')).json[postId].comments;
      return c.length === 2 && c[0].status === 'approved' && c[1].status === 'rejected';
    }, 'moderated comments in query');
    const c = (await req('comments', 'GET', `/posts/${postId}/comments`)).json;
    assert.deepEqual(c.map((x) => x.status), ['approved', 'rejected']);
    const types = (await req('event-bus', 'GET', '/events')).json.map((e) => e.type);
    const count = (t) => types.filter((x) => x === t).length;
    assert.equal(types.length, 7, types.join());
    assert.equal(count('PostCreated'), 1);
    for (const t of ['CommentCreated', 'CommentModerated', 'CommentUpdated']) assert.equal(count(t), 2, t);
  });
  await check('a replaced query service rebuilds the view from GET /events', async () => {
    const before = (await req('query', 'GET', '/posts')).json;
    await stop(svcs.query);
    svcs.query = start('query', { mapNames: true });
    await listening(svcs.query);
    await waitFor(() => /Synced 7 events from event-bus/.test(svcs.query.log), 'replay');
    assert.deepEqual((await req('query', 'GET', '/posts')).json, before);
    assert.match(svcs.query.log, /Processing event: CommentUpdated/);
  });
  await check('no service crashed', () => {
    for (const svc of Object.values(svcs)) assert.equal(svc.exited, null, svc.name);
  });
  for (const svc of Object.values(svcs)) await stop(svc);
}

try {
  await isolated();
  await together();
} catch {
  // reported by check()
} finally {
  for (const svc of [...running]) await stop(svc);
}
