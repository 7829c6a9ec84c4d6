// Runs inside a pod (ticketctl exec): reaches a database by Service name, writes a value, reads it
// back and prints what it read. Usage: node client.js redis|pg|mysql|nats|memcached HOST [options]
// Exit status 0 when the value read back is the one written; the error's message otherwise.
'use strict';
const [kind, host, ...rest] = process.argv.slice(2);
const opt = Object.fromEntries(rest.map((a) => a.split('=')));
const value = `v-${process.pid}-${Date.now()}`;

async function redis() {
  const { createClient } = require('redis');
  const c = createClient({ url: `redis://${host}:6379` });
  await c.connect();
  if (opt.get) return console.log(`read ${await c.get(opt.get)}`);
  await c.set(opt.key || 'k', value);
  console.log(`read ${await c.get(opt.key || 'k')} wrote ${value}`);
  await c.quit();
}

async function pg() {
  const { Client } = require('pg');
  const c = new Client({ host, port: 5432, user: opt.user || 'postgres', password: opt.password,
                         database: opt.database, connectionTimeoutMillis: 10000 });
  await c.connect();
  if (opt.select) {
    const r = await c.query('SELECT v FROM t ORDER BY v');
    console.log(`rows ${r.rows.map((x) => x.v).join(',')}`);
  } else {
    await c.query('CREATE TABLE IF NOT EXISTS t (v text)');
    await c.query('INSERT INTO t VALUES ($1)', [opt.insert || value]);
    const r = await c.query('SELECT current_database() AS db, count(*) AS n FROM t');
    console.log(`db ${r.rows[0].db} rows ${r.rows[0].n}`);
  }
  await c.end();
}

async function mysql() {
  const m = require('mysql2/promise');
  const c = await m.createConnection({ host, port: 3306, user: opt.user, password: opt.password,
                                       database: opt.database, connectTimeout: 10000 });
  await c.query('CREATE TABLE IF NOT EXISTS t (v varchar(64))');
  await c.query('INSERT INTO t VALUES (?)', [value]);
  const [rows] = await c.query('SELECT v FROM t WHERE v = ?', [value]);
  console.log(`read ${rows[0].v} wrote ${value}`);
  await c.end();
}

async function nats() {
  const { connect, StringCodec } = require('nats');
  const nc = await connect({ servers: `${host}:4222` });
  const sc = StringCodec();
  const sub = nc.subscribe('ticketctl.test', { max: 1 });
  nc.publish('ticketctl.test', sc.encode(value));
  for await (const m of sub) console.log(`read ${sc.decode(m.data)} wrote ${value}`);
  await nc.close();
}

// memcached's text protocol over a plain socket: no client package needed.
function memcached() {
  return new Promise((resolve, reject) => {
    const sock = require('net').connect(11211, host);
    let got = '';
    sock.on('error', reject);
    sock.on('connect', () => sock.write(`set k 0 0 ${value.length}\r\n${value}\r\nget k\r\n`));
    sock.on('data', (d) => {
      got += d;
      const m = /VALUE k 0 \d+\r\n(.*)\r\nEND\r\n/.exec(got);
      if (!m) return;
      console.log(`read ${m[1]} wrote ${value}`);
      sock.end();
      resolve();
    });
  });
}

const run = { redis, pg, mysql, nats, memcached }[kind];
if (!run) {
  console.error(`unknown client ${kind}`);
  process.exit(2);
}
run().then(() => process.exit(0), (e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
