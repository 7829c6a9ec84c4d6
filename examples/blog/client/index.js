const http = require('http');
const fs = require('fs');
const path = require('path');

// Files are read on every request, so a synced index.html or app.js shows up on reload.
const files = {
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
};

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost');

  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' });
    return res.end('Method Not Allowed\n');
  }
  if (pathname === '/favicon.ico') {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    return res.end('Not Found\n');
  }

  // Like a single-page app's dev server: every other path gets the page.
  const { file, type } = files[pathname] || files['/index.html'];
  fs.readFile(path.join(__dirname, file), (err, body) => {
    if (err) {
      console.log(err.message);
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      return res.end('Internal Server Error\n');
    }
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': body.length,
      'Cache-Control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
});

server.listen(3000, () => {
  console.log('Listening on 3000');
});
