// The {{name}} service: its routes under {{path}}. index.ts starts it; test/app.test.ts tests
// it without a network port of its own.
import crypto from 'crypto';
import express, { Request, Response } from 'express';
{{#db_redis}}
import { createClient } from 'redis';
{{/db_redis}}

const app = express();
app.use(express.json());
app.use(express.text());

// The readiness probe asks this: the pod receives traffic once it answers.
app.get('/healthz', (req: Request, res: Response) => {
  res.send('ok');
});

// A secret shows as a fingerprint: proof that the value arrived, without revealing it.
const fingerprint = (value: string | undefined) =>
  value === undefined ? null : crypto.createHash('sha256').update(value).digest('hex').slice(0, 16);

app.get('{{path}}', (req: Request, res: Response) => {
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
redis.on('error', (err: Error) => console.error('redis:', err.message));

app.put('{{path}}/kv/:key', async (req: Request, res: Response) => {
  try {
    const value = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    await redis.set(req.params.key, value);
    res.status(204).end();
  } catch (err) {
    res.status(503).send({ error: (err as Error).message });
  }
});

app.get('{{path}}/kv/:key', async (req: Request, res: Response) => {
  try {
    const value = await redis.get(req.params.key);
    if (value === null) {
      res.status(404).send({ error: 'no such key' });
      return;
    }
    res.type('text/plain').send(value);
  } catch (err) {
    res.status(503).send({ error: (err as Error).message });
  }
});
{{/db_redis}}

export { app{{#db_redis}}, redis{{/db_redis}} };
