import { createServer, connect, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Echo backends for the xDS tests (test/xds/echo.proto): each answers its own
 * name, can sleep before answering, and can fail every n-th counted call with
 * UNAVAILABLE. Plus a plain TCP relay, standing in for a remote zone's
 * ingress in plaintext tests.
 */

export const ECHO_PROTO = fileURLToPath(new URL('./echo.proto', import.meta.url));

export interface EchoRequest {
  delay_ms?: number;
  fail_every?: number;
}

export interface EchoReply {
  backend: string;
}

export type EchoClient = grpc.Client & {
  Echo(request: EchoRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: EchoReply) => void): grpc.ClientUnaryCall;
};

interface EchoPackage {
  meshfed: { test: { echo: { Echo: grpc.ServiceClientConstructor } } };
}

/** The Echo service definition and client constructor (works with any grpc-js channel, xds:/// targets included). */
export function loadEcho(): { service: grpc.ServiceDefinition; Client: new (target: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EchoClient } {
  const definition = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as EchoPackage;
  const ctor = pkg.meshfed.test.echo.Echo;
  return { service: ctor.service, Client: ctor as unknown as new (target: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EchoClient };
}

export interface EchoServer {
  name: string;
  host: string;
  port: number;
  /** Calls answered (successfully or not) since start. */
  readonly served: number;
  stop(): Promise<void>;
}

/** An echo backend on host:port (port 0 picks one). */
export async function startEchoServer(name: string, host: string, port: number): Promise<EchoServer> {
  const { service } = loadEcho();
  const server = new grpc.Server();
  const timers = new Set<NodeJS.Timeout>();
  let served = 0;
  let counted = 0;
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      const answer = () => {
        served += 1;
        const failEvery = call.request.fail_every ?? 0;
        if (failEvery > 0) {
          counted += 1;
          if (counted % failEvery === 0) {
            callback({ code: grpc.status.UNAVAILABLE, details: `${name}: failing call ${counted} on purpose` });
            return;
          }
        }
        callback(null, { backend: name });
      };
      const delay = call.request.delay_ms ?? 0;
      if (delay <= 0) return answer();
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, delay);
      timers.add(timer);
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  return {
    name,
    host,
    port: bound,
    get served() {
      return served;
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.forceShutdown();
    },
  };
}

/**
 * Echo backends named by `hosts` (name → loopback IP), all on one port
 * number: a service port is one number, so its endpoints differ by address.
 * Retries with another port if one of the addresses has it taken.
 */
export async function startEchoServersOnOnePort(hosts: Record<string, string>, attempts = 20): Promise<Record<string, EchoServer>> {
  const entries = Object.entries(hosts);
  let lastError: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const started: EchoServer[] = [];
    try {
      const [firstName, firstHost] = entries[0]!;
      const first = await startEchoServer(firstName, firstHost, 0);
      started.push(first);
      for (const [name, host] of entries.slice(1)) started.push(await startEchoServer(name, host, first.port));
      return Object.fromEntries(started.map((s) => [s.name, s]));
    } catch (error) {
      lastError = error;
      await Promise.all(started.map((s) => s.stop()));
    }
  }
  throw new Error(`could not start echo servers on one common port: ${String(lastError)}`);
}

export interface TcpRelay {
  /** host:port to dial. */
  address: string;
  /** Connections relayed since start. */
  readonly connections: number;
  stop(): Promise<void>;
}

/** A plain TCP pipe from host:<free port> to target: a remote zone's "ingress" for plaintext tests. */
export async function startTcpRelay(host: string, target: { host: string; port: number }): Promise<TcpRelay> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server: Server = createServer((downstream) => {
    connections += 1;
    const upstream = connect(target.port, target.host);
    track(downstream);
    track(upstream);
    const close = () => {
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    address: `${host}:${port}`,
    get connections() {
      return connections;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
