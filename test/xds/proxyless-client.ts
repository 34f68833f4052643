/**
 * A proxyless gRPC client (grpc-js + @grpc/grpc-js-xds) as its own process:
 * the xDS bootstrap (GRPC_XDS_BOOTSTRAP) is read once per process, so each
 * test that needs another identity or control plane starts another one.
 *
 * Reads one JSON batch per stdin line:
 *   {"id": 1, "target": "xds:///echo.demo.mesh:1234", "calls": 100, "request": {...}, "deadlineMs": 2000, "concurrency": 1}
 * and answers each with one stdout line:
 *   @@batch {"id": 1, "byBackend": {"a1": 100}, "errors": {"UNAVAILABLE": 2}, "errorDetails": [...], "minMs": 1, "maxMs": 9}
 * Calls of a batch run `concurrency` at a time (default 1, in order).
 */
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { loadEcho, type EchoClient, type EchoRequest } from './echo-server.js';
import { READY_LINE, RESULT_PREFIX, type Batch, type BatchResult } from './proxyless-driver.js';

xds.register();
const { Client } = loadEcho();
const clients = new Map<string, EchoClient>();
const clientFor = (target: string) => {
  let client = clients.get(target);
  if (!client) clients.set(target, (client = new Client(target, grpc.credentials.createInsecure())));
  return client;
};

function callOnce(client: EchoClient, request: EchoRequest, deadlineMs: number): Promise<{ backend?: string; error?: grpc.ServiceError; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    client.Echo(request, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (error, reply) => {
      const ms = performance.now() - started;
      resolve(error ? { error, ms } : { backend: reply?.backend ?? '?', ms });
    });
  });
}

async function runBatch(batch: Batch): Promise<BatchResult> {
  const client = clientFor(batch.target);
  const result: BatchResult = { id: batch.id, byBackend: {}, errors: {}, errorDetails: [], minMs: Infinity, maxMs: 0, maxErrorMs: 0 };
  let next = 0;
  const worker = async () => {
    while (next < batch.calls) {
      next += 1;
      const outcome = await callOnce(client, batch.request ?? {}, batch.deadlineMs ?? 5000);
      result.minMs = Math.min(result.minMs, outcome.ms);
      result.maxMs = Math.max(result.maxMs, outcome.ms);
      if (outcome.error) {
        const code = grpc.status[outcome.error.code] ?? String(outcome.error.code);
        result.errors[code] = (result.errors[code] ?? 0) + 1;
        result.maxErrorMs = Math.max(result.maxErrorMs, outcome.ms);
        const detail = `${code}: ${outcome.error.details}`;
        if (result.errorDetails.length < 5 && !result.errorDetails.includes(detail)) result.errorDetails.push(detail);
      } else {
        result.byBackend[outcome.backend!] = (result.byBackend[outcome.backend!] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, batch.concurrency ?? 1) }, worker));
  if (result.minMs === Infinity) result.minMs = 0;
  return result;
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.trim()) return;
  const batch = JSON.parse(line) as Batch;
  void runBatch(batch).then((result) => process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`));
});
lines.on('close', () => {
  for (const client of clients.values()) client.close();
  process.exit(0);
});
process.stdout.write(`${READY_LINE}\n`);
