// The {{name}} service: its routes under {{path}}. index.js starts it; app.test.js tests it
// without a network port of its own.
const crypto = require('crypto');
const express = require('express');
{{#db_redis}}
const { createClient } = require('redis');
{{/db_redis}}

const app = express();
app.use(express.json());
app.use(express.text());

// The readiness probe asks this: the pod receives traffic once it answers.
app.get('/healthz', (req, res) => res.send('ok'));

// A secret shows as a fingerprint: proof that the value arrived, without revealing it.
const fingerprint = (value) =>
  value === undefined ? null : crypto.createHash('sha256').update(value).digest('hex').slice(0, 16);

app.get('{{path}}', (req, res) => {
  res.send({
    service: '{{name}}',
    secrets: {
{{#secrets}}
      {{env}}: fingerprint(process.env.{{env}}),
{{/secrets}}
    },
  });
});
{{#db_redis}}

// Redis by its Service name (REDIS_URL in infra/k8s/{{name}}-depl.yaml). The client reconnects
// by itself and queues commands until it is connected.
const redis = createClient({ url: process.env.REDIS_URL });
redis.on('error', (err) => console.error('redis:', err.message));

app.put('{{path}}/kv/:key', async (req, res) => {
  try {
    const value = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    await redis.set(req.params.key, value);
    res.status(204).end();
  } catch (err) {
    res.status(503).send({ error: err.message });
  }
});

app.get('{{path}}/kv/:key', async (req, res) => {
  try {
    const value = await redis.get(req.params.key);
    if (value === null) return res.status(404).send({ error: 'no such key' });
    res.type('text/plain').send(value);
  } catch (err) {
    res.status(503).send({ error: err.message });
  }
});
{{/db_redis}}

module.exports = { app{{#db_redis}}, redis{{/db_redis}} };
