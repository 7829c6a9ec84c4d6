// A pod for the rollout tests: answers 200 on $PORT and exits on SIGTERM, as most services do.
const http = require("http");
const server = http.createServer((req, res) => res.end("ok\n"));
server.listen(Number(process.env.PORT || 8080));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
