// The local receiver: a minimal node:http server in a process of its own. Answers every POST
// with 200 {} and counts arrivals; when asked, it also notes when each event's body arrived.
//
// Hang mode, by path: a request to /hang… is read and never answered, like a target that
// accepts connections and then says nothing (the noisy neighbour, ./neighbour.mjs). Those are
// counted apart (`hanging`, `hung`) and held until a reset with {release: true} or the stop.
//
// Flaky mode, by path: a request to /flaky… whose object id ends in 0 is answered 503 (an
// nginx error page) the first time that path and object come, like a target that fails one
// delivery in ten once; counted apart (`refused`), and answered 200 when it comes again.
//
// Controlled over IPC (see ./util.mjs ipc): reset {record, target, release}, stats {arrivals}.
// With a `target`, it reports the first arrival {type: 'first', at} and, when the count
// reaches the target, {type: 'reached', first, at}.
import http from 'node:http';

const now = () => Number(process.hrtime.bigint()) / 1e6;
const OBJECT_ID = /"object_id":(\d+)/;

let count = 0;
let first = 0;
let last = 0;
let target = 0;
let record = false;
/** Flat pairs: objectId, arrival time. */
let arrivals = [];
/** Requests to /hang… that are being held, and how many came since the last reset. */
const held = new Set();
let hung = 0;
/** Flaky mode: the path and object pairs answered 503 once already. */
const failedOnce = new Set();
let refused = 0;
const PAGE_503 = '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n';

const release = () => {
  for (const res of held) res.destroy();
  held.clear();
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    if (req.url?.startsWith('/hang')) {
      hung += 1;
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if (req.url?.startsWith('/flaky')) {
      const id = OBJECT_ID.exec(Buffer.concat(chunks).toString('latin1'))?.[1];
      const key = `${req.url} ${id}`;
      if (id !== undefined && id.endsWith('0') && !failedOnce.has(key)) {
        failedOnce.add(key);
        refused += 1;
        res.writeHead(503, { 'content-type': 'text/html', 'content-length': String(PAGE_503.length) });
        res.end(PAGE_503);
        return;
      }
    }
    const at = now();
    count += 1;
    if (count === 1) {
      first = at;
      if (target > 0) process.send({ type: 'first', at });
    }
    last = at;
    if (record) {
      const match = OBJECT_ID.exec(Buffer.concat(chunks).toString('latin1'));
      if (match) arrivals.push(Number(match[1]), at);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' });
    res.end('{}');
    if (count === target) process.send({ type: 'reached', first, at });
  });
});
server.keepAliveTimeout = 65_000;

process.on('message', (message) => {
  if (message.type === 'reset') {
    count = 0;
    first = 0;
    last = 0;
    target = message.target ?? 0;
    record = Boolean(message.record);
    arrivals = [];
    hung = 0;
    refused = 0;
    failedOnce.clear();
    if (message.release) release();
    process.send({ id: message.id, type: 'reset' });
  } else if (message.type === 'stats') {
    process.send({ id: message.id, type: 'stats', count, first, last, hanging: held.size, hung, refused, arrivals: message.arrivals ? arrivals : undefined });
  } else if (message.type === 'stop') {
    release();
    server.closeAllConnections();
    server.close(() => process.exit(0));
  }
});

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }));
