// Test-only preload (node -r ./dev/resolve-local.cjs index.js): resolves the blog's Service
// names (posts-clusterip-srv, event-bus-srv, ...) to 127.0.0.1 so all six services can talk to
// each other on one host without a cluster, ticketctl or /etc/hosts entries. The services
// themselves know nothing about it; they hard-code the Service names as the course does.
const dns = require('dns');

const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (typeof hostname === 'string' && /-srv$/.test(hostname)) {
    if (typeof options === 'function') [callback, options] = [options, {}];
    if (typeof options === 'number') options = { family: options };
    const address = '127.0.0.1';
    if (options && options.all) return process.nextTick(callback, null, [{ address, family: 4 }]);
    return process.nextTick(callback, null, address, 4);
  }
  return lookup.apply(this, arguments);
};
