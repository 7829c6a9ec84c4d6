// Accepts connections on $PORT and never answers: an httpGet probe against it lasts its whole
// timeout.
require("net").createServer(() => {}).listen(Number(process.env.PORT || 8080), () =>
  console.log("listening, never answering"));
