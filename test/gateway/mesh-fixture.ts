/**
 * Workloads with meshfed sidecars on loopback, for the data-plane tests:
 * an HTTP "echo" application per instance (says who answered and what it
 * was sent) and `startGateway` sidecars in front of them, registered with a
 * real zone CP. Each sidecar takes its own loopback addresses, as a pod
 * would its own IP.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startGateway, type RunningGateway } from '../../gateway/main.js';
import type { DataplaneRegistration } from '../../core/schemas/dataplane.js';
import type { RunningZoneCp } from '../../zone-cp/main.js';

/** What a sidecar needs of its zone: the running zone CP and a way to get dataplane tokens (ZoneFixture is one). */
export interface ZoneHandle {
  readonly zone: RunningZoneCp;
  token(tenant: string, serviceAccount: string, namespace?: string): string;
}

export interface EchoReply {
  instance: string;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTP application that answers JSON describing the request; `fail` makes it answer 503. */
export class EchoApp {
  fail = false;
  requests = 0;
  private server: http.Server | undefined;

  private constructor(
    readonly instance: string,
    public port: number,
  ) {}

  static async start(instance: string, port = 0): Promise<EchoApp> {
    const app = new EchoApp(instance, port);
    await app.listen();
    return app;
  }

  async listen(): Promise<void> {
    const server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (c: Buffer) => (body += c.toString()));
      request.on('end', () => {
        this.requests += 1;
        const reply: EchoReply = { instance: this.instance, method: request.method ?? '', path: request.url ?? '', headers: request.headers, body };
        response.writeHead(this.fail ? 503 : 200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(reply));
      });
    });
    // A WebSocket-like upgrade: 101 naming the instance and the caller the sidecar saw, then an upper-casing echo.
    server.on('upgrade', (request: http.IncomingMessage, socket: Socket) => {
      this.requests += 1;
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${String(request.headers.upgrade)}\r\nConnection: Upgrade\r\nx-instance: ${this.instance}\r\nx-caller: ${String(request.headers['x-forwarded-client-cert'] ?? '')}\r\n\r\n`,
      );
      socket.on('data', (chunk: Buffer) => socket.write(chunk.toString().toUpperCase()));
      socket.on('end', () => socket.end());
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** The application dies: its port refuses connections. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface SidecarSpec {
  tenant: string;
  namespace?: string;
  service: string;
  instance: string;
  /** The workload's address (its inbound listeners bind here). */
  address: string;
  /** Mesh port of the inbound side and the application port behind it. */
  port: number;
  appPort: number;
  protocol?: 'http' | 'http2' | 'grpc' | 'tcp';
  /** Where its outbound listeners bind. */
  outboundAddress: string;
  locality?: { region: string; zone: string };
  stateDir?: string;
}

export async function startSidecar(zone: ZoneHandle, spec: SidecarSpec, adminPort = 0): Promise<RunningGateway> {
  const namespace = spec.namespace ?? 'demo';
  const dataplane: DataplaneRegistration = {
    tenant: spec.tenant,
    namespace,
    service: spec.service,
    instance: spec.instance,
    address: spec.address,
    ports: [{ port: spec.port, targetPort: spec.appPort, protocol: spec.protocol ?? 'http' }],
    ...(spec.locality ? { locality: spec.locality } : {}),
  };
  return startGateway({
    mode: 'sidecar',
    zoneCpGrpc: zone.zone.grpcAddress,
    caFile: zone.zone.grpcCaFile,
    zoneCpUrl: zone.zone.url,
    token: zone.token(spec.tenant, spec.service, namespace),
    dataplane,
    outboundAddress: spec.outboundAddress,
    adminListen: { host: '127.0.0.1', port: adminPort },
    accessLog: process.env.ACCESSLOG ?? 'off',
    logLevel: process.env.GWLOG ?? 'silent',
    drainMs: 2_000,
    ...(spec.stateDir ? { stateDir: spec.stateDir } : {}),
  });
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** GET (or other) through a sidecar's outbound listener, with the mesh host name as Host. */
export function request(address: string, port: number, host: string, path = '/', options: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: address, port, path, method: options.method ?? 'GET', agent, headers: { host, ...options.headers }, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends `count` requests, `concurrency` at a time; returns every status (0 for a transport error) and the answering instances. */
export async function load(send: () => Promise<HttpResult>, count: number, concurrency: number): Promise<{ statuses: number[]; instances: string[]; errors: string[] }> {
  const statuses: number[] = [];
  const instances: string[] = [];
  const errors: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        try {
          const result = await send();
          statuses.push(result.status);
          if (result.status === 200) instances.push((JSON.parse(result.body) as EchoReply).instance);
          else errors.push(`${result.status} ${result.body.slice(0, 200)}`);
        } catch (error) {
          statuses.push(0);
          errors.push((error as Error).message);
        }
      }
    }),
  );
  return { statuses, instances, errors };
}
