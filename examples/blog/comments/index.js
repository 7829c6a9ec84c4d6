const http = require('http');
const { randomBytes } = require('crypto');

// In-memory store, as in the course: { [postId]: [{ id, content, status }] }
const commentsByPostId = {};

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

// --- routes ---

const handleEvent = async (type, data) => {
  if (type === 'CommentModerated') {
    const { postId, id, status, content } = data;
    const comments = commentsByPostId[postId] || [];
    const comment = comments.find((comment) => comment.id === id);
    if (!comment) return;
    comment.status = status;

    await post('http://event-bus-srv:4005/events', {
      type: 'CommentUpdated',
      data: { id, status, postId, content },
    }).catch((err) => console.log(err.message));
  }
};

const server = http.createServer(async (req, res) => {
  if (cors(req, res)) return;
  const { pathname } = new URL(req.url, 'http://localhost');
  const match = pathname.match(/^\/posts\/([^/]+)\/comments\/?$/);

  try {
    if (req.method === 'GET' && match) {
      return send(res, 200, commentsByPostId[match[1]] || []);
    }

    if (req.method === 'POST' && match) {
      const postId = match[1];
      const commentId = randomBytes(4).toString('hex');
      const { content } = await readBody(req);

      const comments = commentsByPostId[postId] || [];
      comments.push({ id: commentId, content, status: 'pending' });
      commentsByPostId[postId] = comments;

      await post('http://event-bus-srv:4005/events', {
        type: 'CommentCreated',
        data: { id: commentId, content, postId, status: 'pending' },
      }).catch((err) => console.log(err.message));

      return send(res, 201, comments);
    }

    if (req.method === 'POST' && pathname === '/events') {
      const { type, data } = await readBody(req);
      console.log('Received Event', type);
      await handleEvent(type, data || {});
      return send(res, 200, {});
    }

    send(res, 404, { error: `Cannot ${req.method} ${pathname}` });
  } catch (err) {
    console.log(err.message);
    if (!res.headersSent) send(res, 400, { error: err.message });
  }
});

server.listen(4001, () => {
  console.log('Listening on 4001');
});
