// Fails as a service whose database is down does at start: an uncaught connection error, whose
// stack and error object Node prints after the line that matters.
const net = require("net");
console.log("connecting to the database");
net.connect(Number(process.env.DB_PORT || 1), "127.0.0.1");
