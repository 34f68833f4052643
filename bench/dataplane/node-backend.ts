/**
 * The Node backend of the dataplane bench (`--backend node`): HTTP/1.1,
 * keep-alive, 200 "ok" to every request. Run as its own process so its CPU
 * is read apart from everything else:
 *
 *   node --import tsx bench/dataplane/node-backend.ts <port>
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: node --import tsx bench/dataplane/node-backend.ts <port>');
  process.exit(2);
}

const body = Buffer.from('ok');
const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
const server = createServer((request, response) => {
  request.resume(); // a body, if any, is read and dropped
  response.writeHead(200, headers);
  response.end(body);
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
server.listen(port, '127.0.0.1');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
