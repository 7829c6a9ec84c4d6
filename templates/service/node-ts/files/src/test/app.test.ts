// `npm test`: Node's own test runner (through ts-node) against the app on a free port.
import test from 'node:test';
import assert from 'node:assert';
import { AddressInfo } from 'net';
import { app } from '../app';

test('{{name}} answers /healthz and {{path}}', async () => {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const health = await fetch(`${base}/healthz`);
    assert.strictEqual(health.status, 200);
    const res = await fetch(`${base}{{path}}`);
    assert.strictEqual(res.status, 200);
    assert.strictEqual(((await res.json()) as { service: string }).service, '{{name}}');
  } finally {
    server.close();
  }
});
