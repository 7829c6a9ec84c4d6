// A pod for the networking tests, unmodified Kubernetes-style code: listens on port 3000 (all
// interfaces, as most services do) and answers
//   GET /             its HOSTNAME (the pod's name)
//   GET /client       "<HOSTNAME> <the client's port as this server sees it>"
//   GET /call?url=U   "<HOSTNAME> -> <what U answered>", fetching U over a new connection (no
//                     keep-alive, so each call is balanced anew by the Service), or 502 "error ..."
const http = require('http');

const name = process.env.HOSTNAME;

function call(url, res) {
  const req = http.get(url, { agent: false, timeout: 5000 }, (up) => {
    let body = '';
    up.setEncoding('utf8');
    up.on('data', (chunk) => (body += chunk));
    up.on('end', () => {
      res.writeHead(up.statusCode === 200 ? 200 : 502);
      res.end(`${name} -> ${body}`);
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (err) => {
    res.writeHead(502);
    res.end(`error ${err.code || err.message}`);
  });
}

http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://local');
    if (url.pathname === '/call') return call(url.searchParams.get('url'), res);
    if (url.pathname === '/client') return res.end(`${name} ${req.socket.remotePort}`);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(name);
  })
  .listen(3000, () => console.log(`${name} listening on 3000`));
