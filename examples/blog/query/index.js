const http = require('http');

// The joined view the client reads: { [postId]: { id, title, comments: [{ id, content, status }] } }
const posts = {};

// --- tiny helpers standing in for express, body-parser, cors and axios ---

const readBody = (req) =>
  new Promise((resolve, reject) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (raw += chunk));
    req.on('end', () => {
      if (!raw.trim()) return resolve({});
      try {
        resolve(JSON.parse(raw));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });

const send = (res, status, body) => {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
};

// What the cors() middleware does with its defaults.
const cors = (req, res) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.method !== 'OPTIONS') return false;
  res.setHeader('Access-Control-Allow-Methods', 'GET,HEAD,PUT,PATCH,POST,DELETE');
  if (req.headers['access-control-request-headers']) {
    res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers']);
    res.setHeader('Vary', 'Access-Control-Request-Headers');
  }
  res.writeHead(204, { 'Content-Length': '0' });
  res.end();
  return true;
};

// axios.post(url, data): resolves with the parsed answer, rejects on a network error,
// a timeout or a non-2xx status.
const post = (url, data) =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify(data);
    const req = http.request(
      url,
      {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
        timeout: 5000,
      },
      (res) => {
        let raw = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (raw += chunk));
        res.on('end', () => {
          if (res.statusCode < 200 || res.statusCode >= 300)
            return reject(new Error(`Request failed with status code ${res.statusCode}`));
          try {
            resolve(raw ? JSON.parse(raw) : undefined);
          } catch (err) {
            resolve(raw);
          }
        });
      }
    );
    req.on('timeout', () => req.destroy(new Error(`timeout of 5000ms exceeded (${url})`)));
    req.on('error', reject);
    req.end(body);
  });

// axios.get(url): resolves with the parsed JSON answer.
const get = (url) =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', timeout: 5000 }, (res) => {
      let raw = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (raw += chunk));
      res.on('end', () => {
        if (res.statusCode < 200 || res.statusCode >= 300)
          return reject(new Error(`Request failed with status code ${res.statusCode}`));
        try {
          resolve(JSON.parse(raw));
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout of 5000ms exceeded (${url})`)));
    req.on('error', reject);
    req.end();
  });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- event handling ---
// Events may arrive twice (live from the bus and again in the replay at start-up), so each
// handler is idempotent.

const handleEvent = (type, data) => {
  if (!data) return;

  if (type === 'PostCreated') {
    const { id, title } = data;
    if (!posts[id]) posts[id] = { id, title, comments: [] };
  }

  if (type === 'CommentCreated') {
    const { id, content, postId, status } = data;
    const post = posts[postId];
    if (post && !post.comments.some((comment) => comment.id === id)) {
      post.comments.push({ id, content, status });
    }
  }

  if (type === 'CommentUpdated') {
    const { id, content, postId, status } = data;
    const post = posts[postId];
    const comment = post && post.comments.find((comment) => comment.id === id);
    if (comment) {
      comment.status = status;
      comment.content = content;
    }
  }
};

// --- routes ---

const server = http.createServer(async (req, res) => {
  if (cors(req, res)) return;
  const { pathname } = new URL(req.url, 'http://localhost');

  try {
    if (req.method === 'GET' && (pathname === '/posts' || pathname === '/posts/')) {
      return send(res, 200, posts);
    }

    if (req.method === 'POST' && pathname === '/events') {
      const { type, data } = await readBody(req);
      console.log('Received Event', type);
      handleEvent(type, data);
      return send(res, 200, {});
    }

    send(res, 404, { error: `Cannot ${req.method} ${pathname}` });
  } catch (err) {
    console.log(err.message);
    if (!res.headersSent) send(res, 400, { error: err.message });
  }
});

// Catch up on everything that happened while this pod was not running. The course does one
// GET and logs a failure; here a few retries cover the event bus starting after us.
const syncEvents = async () => {
  const attempts = 8;
  let delay = 500;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const events = await get('http://event-bus-srv:4005/events');
      for (const event of events) {
        console.log('Processing event:', event.type);
        handleEvent(event.type, event.data);
      }
      console.log(`Synced ${events.length} events from event-bus`);
      return;
    } catch (err) {
      console.log(
        `Could not fetch events from event-bus (attempt ${attempt}/${attempts}): ${err.message}`
      );
      if (attempt < attempts) {
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }
  console.log('Giving up on the event-bus replay; serving live events only');
};

server.listen(4002, () => {
  console.log('Listening on 4002');
  syncEvents();
});
