// @ts-check
/**
 * A naive Node.js HTTP/1.1 proxy hop, for the dataplane bench's
 * `node-http-2hops-mtls` target: the floor of what Node's own HTTP and TLS
 * stack costs for a hop, so that meshfed's own overhead can be told apart.
 *
 *   node bench/dataplane/naive-node-proxy.mjs --listen 127.0.0.1:<port> --upstream 127.0.0.1:<port>
 *       [--listen-cert <pem> --listen-ca <pem>]        terminate mTLS (client certificate required and verified)
 *       [--upstream-cert <pem> --upstream-ca <pem> --upstream-servername <name>]   originate mTLS (server certificate verified)
 *       [--max-sockets 256]
 *
 * `<pem>` for a certificate is certificate and key in one file (the bench PKI's `*.crt-key.pem`).
 *
 * Plain JavaScript on purpose: it runs as plain `node`, without the tsx loader
 * (which costs about a third of the CPU of such a small program). What it
 * does per request, and nothing more: `node:http`/`node:https` server,
 * `http(s).request` through one keep-alive Agent (LIFO, `--max-sockets`),
 * `req.pipe(upstream request)`, `res.writeHead(status, headers)` +
 * `upstream response.pipe(res)`. Headers are forwarded as they are (no
 * hop-by-hop filtering), no routing, no retries; an upstream error is a 502
 * (or a reset connection once the response has started). TCP_NODELAY on both
 * sides.
 */
import console from 'node:console';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { Socket } from 'node:net';
import process from 'node:process';
import { parseArgs } from 'node:util';

const usage = 'usage: node naive-node-proxy.mjs --listen <host:port> --upstream <host:port> [--listen-cert <pem> --listen-ca <pem>] [--upstream-cert <pem> --upstream-ca <pem> --upstream-servername <name>] [--max-sockets <n>]';

/** @param {string} text @param {string} flag */
function address(text, flag) {
  const i = text.lastIndexOf(':');
  const port = Number(text.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) fail(`${flag}: expected <host:port>, got "${text}"`);
  return { host: text.slice(0, i), port };
}

/** @param {string} message @returns {never} */
function fail(message) {
  console.error(`naive-node-proxy: ${message}\n${usage}`);
  process.exit(2);
}

/** @type {{ values: Record<string, string | undefined> }} */
let parsed = { values: {} };
try {
  parsed = parseArgs({
    options: {
      listen: { type: 'string' },
      upstream: { type: 'string' },
      'listen-cert': { type: 'string' },
      'listen-ca': { type: 'string' },
      'upstream-cert': { type: 'string' },
      'upstream-ca': { type: 'string' },
      'upstream-servername': { type: 'string' },
      'max-sockets': { type: 'string', default: '256' },
    },
    strict: true,
  });
} catch (error) {
  fail(/** @type {Error} */ (error).message);
}
const args = parsed.values;
if (!args.listen || !args.upstream) fail('--listen and --upstream are required');
const listen = address(args.listen, '--listen');
const upstream = address(args.upstream, '--upstream');
const maxSockets = Number(args['max-sockets']);
if (!Number.isInteger(maxSockets) || maxSockets < 1) fail('--max-sockets: expected a whole number ≥ 1');
if (Boolean(args['listen-cert']) !== Boolean(args['listen-ca'])) fail('--listen-cert and --listen-ca go together');
if (Boolean(args['upstream-cert']) !== Boolean(args['upstream-ca'])) fail('--upstream-cert and --upstream-ca go together');

/** @param {string} file */
const read = (file) => readFileSync(file);

// ---------------------------------------------------------------- upstream side: one keep-alive Agent

const agentOptions = { keepAlive: true, maxSockets, scheduling: /** @type {const} */ ('lifo'), keepAliveMsecs: 1000 };
/** @type {http.Agent} */
let agent;
if (args['upstream-cert'] && args['upstream-ca']) {
  const pem = read(args['upstream-cert']);
  // Agent options override the request's: every connection presents the client certificate and verifies the server's (chain and name).
  agent = new https.Agent({
    ...agentOptions,
    cert: pem,
    key: pem,
    ca: read(args['upstream-ca']),
    rejectUnauthorized: true,
    ...(args['upstream-servername'] ? { servername: args['upstream-servername'] } : {}),
  });
} else {
  agent = new http.Agent(agentOptions);
}
const client = args['upstream-cert'] ? https : http;
// TCP_NODELAY on every upstream connection: the Agent's `noDelay` option is not applied to TLS
// connections (Node 20, checked with strace), so set it on each socket the Agent creates.
const createConnection = agent.createConnection.bind(agent);
agent.createConnection = (options, callback) => {
  const socket = createConnection(options, callback);
  if (socket instanceof Socket) socket.setNoDelay(true);
  return socket;
};

// ---------------------------------------------------------------- listening side

/** @param {http.IncomingMessage} req @param {http.ServerResponse} res */
function proxy(req, res) {
  const upstreamReq = client.request(
    { host: upstream.host, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
    (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    },
  );
  upstreamReq.on('error', (error) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`upstream: ${error.message}\n`);
    } else {
      res.destroy(error);
    }
  });
  res.on('close', () => {
    if (!res.writableFinished) upstreamReq.destroy();
  });
  req.pipe(upstreamReq);
}

const serverOptions = { noDelay: true };
const server =
  args['listen-cert'] && args['listen-ca']
    ? https.createServer(
        {
          ...serverOptions,
          cert: read(args['listen-cert']),
          key: read(args['listen-cert']),
          ca: read(args['listen-ca']),
          requestCert: true,
          rejectUnauthorized: true,
        },
        proxy,
      )
    : http.createServer(serverOptions, proxy);
// as the bench's HAProxy (timeout http-keep-alive 60s) and Node backend
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
server.on('tlsClientError', (/** @type {Error} */ error) => console.error(`naive-node-proxy: TLS client error: ${error.message}`));
server.listen(listen.port, listen.host, () => {
  console.error(`naive-node-proxy: ${args['listen-cert'] ? 'https (client certificate required)' : 'http'} on ${listen.host}:${listen.port} → ${args['upstream-cert'] ? 'https (mTLS)' : 'http'} ${upstream.host}:${upstream.port}`);
});

for (const signal of /** @type {const} */ (['SIGTERM', 'SIGINT'])) {
  process.once(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    agent.destroy();
  });
}
