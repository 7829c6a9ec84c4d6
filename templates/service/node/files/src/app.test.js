// `npm test`: Node's own test runner against the app on a free port.
const test = require('node:test');
const assert = require('node:assert');
const { app } = require('./app');

test('{{name}} answers /healthz and {{path}}', async () => {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    const health = await fetch(`${base}/healthz`);
    assert.strictEqual(health.status, 200);
    const res = await fetch(`${base}{{path}}`);
    assert.strictEqual(res.status, 200);
    assert.strictEqual((await res.json()).service, '{{name}}');
  } finally {
    server.close();
  }
});
