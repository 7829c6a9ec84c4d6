// term_after_hook.sh as an HTTP server: GET /pre-stop creates $DIR/$HOSTNAME-hook (what an
// httpGet preStop hook calls); SIGTERM writes "<after-hook|no-hook> <time in ns>" to
// $DIR/$HOSTNAME-term, then exits.
const fs = require("fs");
const http = require("http");
const base = `${process.env.DIR}/${process.env.HOSTNAME}`;
const server = http.createServer((req, res) => {
  if (req.url === "/pre-stop") fs.writeFileSync(`${base}-hook`, "");
  res.end("ok\n");
});
server.listen(Number(process.env.PORT || 8080), () => console.log("listening"));
process.on("SIGTERM", () => {
  const how = fs.existsSync(`${base}-hook`) ? "after-hook" : "no-hook";
  fs.writeFileSync(`${base}-term`, `${how} ${process.hrtime.bigint()}\n`);
  process.exit(0);
});
