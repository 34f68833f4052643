import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';

/**
 * A Kubernetes API server small enough to read, speaking the real list/watch
 * wire protocol for the kinds meshfed's Kubernetes discovery watches, at their
 * cluster-wide paths. Enough to test informers against: a global, monotonically
 * increasing resourceVersion; watches from a resourceVersion replay the events
 * after it; a compacted history answers a watch from before it with an ERROR
 * event carrying a 410 Status (as the real apiserver does), then closes.
 */

export type FakeKind = 'Namespace' | 'Pod' | 'Service' | 'EndpointSlice';

const KINDS: Record<FakeKind, { path: string; apiVersion: string; namespaced: boolean }> = {
  Namespace: { path: '/api/v1/namespaces', apiVersion: 'v1', namespaced: false },
  Pod: { path: '/api/v1/pods', apiVersion: 'v1', namespaced: true },
  Service: { path: '/api/v1/services', apiVersion: 'v1', namespaced: true },
  EndpointSlice: { path: '/apis/discovery.k8s.io/v1/endpointslices', apiVersion: 'discovery.k8s.io/v1', namespaced: true },
};

/** Any object of a served kind: kind and metadata are read, the rest is stored and served as given. */
export type KubeObject = KubernetesObject;

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface StoredEvent {
  rv: number;
  kind: FakeKind;
  type: EventType;
  object: KubeObject;
}
interface OpenWatch {
  kind: FakeKind;
  res: ServerResponse;
  timers: NodeJS.Timeout[];
}

export interface FakeApiServerOptions {
  /** Bearer token requests must carry. */
  token?: string;
  /** How often watches that asked for bookmarks get one. */
  bookmarkIntervalMs?: number;
}

export class FakeApiServer {
  /** Every request's path and query, in order, for tests that check what the client sends. */
  readonly requests: URL[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private events: StoredEvent[] = [];
  private rv = 1;
  /** Watches from before this resourceVersion are too old (410 Gone). */
  private compactedRv = 0;
  private failingLists = 0;
  private readonly watches = new Set<OpenWatch>();
  private server: Server | undefined;
  url = '';

  constructor(private readonly options: FakeApiServerOptions = {}) {}

  get token(): string {
    return this.options.token ?? 'x';
  }

  async listen(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Creates or replaces an object (by kind, namespace, name) and tells the watches. */
  put(obj: KubeObject): KubeObject {
    const kind = kindOf(obj);
    const key = objectKey(kind, obj.metadata?.namespace, obj.metadata?.name);
    const before = this.objects.get(key);
    const rv = ++this.rv;
    const stored = structuredClone(obj);
    stored.apiVersion = KINDS[kind].apiVersion;
    stored.metadata = { ...stored.metadata, uid: before?.metadata?.uid ?? randomUUID(), resourceVersion: String(rv) };
    this.objects.set(key, stored);
    this.record({ rv, kind, type: before ? 'MODIFIED' : 'ADDED', object: stored });
    return structuredClone(stored);
  }

  /** Deletes an object; the DELETED event carries the deletion's resourceVersion, as the real server's does. */
  delete(kind: FakeKind, namespace: string | undefined, name: string): boolean {
    const key = objectKey(kind, namespace, name);
    const before = this.objects.get(key);
    if (!before) return false;
    this.objects.delete(key);
    const rv = ++this.rv;
    this.record({ rv, kind, type: 'DELETED', object: { ...before, metadata: { ...before.metadata, resourceVersion: String(rv) } } });
    return true;
  }

  /** Forgets the event history: a watch from any earlier resourceVersion now gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.events = [];
  }

  /**
   * Closes every open watch: by default abruptly (sockets destroyed, as on a
   * network blip); `graceful` ends them cleanly, as the server does when a
   * watch's timeoutSeconds runs out.
   */
  dropWatches(options: { graceful?: boolean } = {}): number {
    const count = this.watches.size;
    for (const w of [...this.watches]) this.endWatch(w, !options.graceful);
    return count;
  }

  /** The next `count` list requests answer 500 (an apiserver restarting). */
  failLists(count: number): void {
    this.failingLists = count;
  }

  openWatches(kind?: FakeKind): number {
    return [...this.watches].filter((w) => !kind || w.kind === kind).length;
  }

  get resourceVersion(): string {
    return String(this.rv);
  }

  async close(): Promise<void> {
    this.dropWatches();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private record(event: StoredEvent): void {
    this.events.push(event);
    for (const w of this.watches) if (w.kind === event.kind) send(w.res, event.type, event.object);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push(url);
    if (req.headers.authorization !== `Bearer ${this.token}`) return status(res, 401, 'Unauthorized', 'missing or wrong bearer token');
    const kind = (Object.keys(KINDS) as FakeKind[]).find((k) => KINDS[k].path === url.pathname);
    if (req.method !== 'GET' || !kind) return status(res, 404, 'NotFound', `the fake apiserver does not serve ${req.method} ${url.pathname}`);
    // Selectors are not implemented: answering as if they were would make a test pass for the wrong reason.
    if (url.searchParams.has('labelSelector') || url.searchParams.has('fieldSelector')) return status(res, 400, 'BadRequest', 'selectors are not supported by the fake apiserver');
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') return this.watch(kind, url, res);
    if (this.failingLists > 0) {
      this.failingLists--;
      return status(res, 500, 'InternalError', 'injected list failure');
    }
    // A list is always served from the current state, which satisfies any resourceVersion ("not older than").
    const items = [...this.objects.values()].filter((o) => kindOf(o) === kind);
    json(res, 200, { kind: `${kind}List`, apiVersion: KINDS[kind].apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
  }

  private watch(kind: FakeKind, url: URL, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    // Headers now, as the real server does: client-node's informer awaits them before start() resolves.
    res.flushHeaders();
    const fromParam = url.searchParams.get('resourceVersion') ?? '';
    const w: OpenWatch = { kind, res, timers: [] };
    if (fromParam === '' || fromParam === '0') {
      // "Any" resourceVersion: a synthetic ADDED for everything there is, then live events.
      for (const o of this.objects.values()) if (kindOf(o) === kind) send(res, 'ADDED', o);
    } else {
      const from = Number(fromParam);
      if (!Number.isInteger(from) || from < this.compactedRv) {
        const message = `too old resource version: ${fromParam} (${this.compactedRv})`;
        send(res, 'ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 });
        res.end();
        return;
      }
      for (const e of this.events) if (e.kind === kind && e.rv > from) send(res, e.type, e.object);
    }
    this.watches.add(w);
    res.on('close', () => this.endWatch(w, false));
    const timeoutSeconds = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    if (timeoutSeconds > 0) w.timers.push(setTimeout(() => this.endWatch(w, false), timeoutSeconds * 1000));
    if (url.searchParams.get('allowWatchBookmarks') === 'true') {
      const bookmark = () => send(res, 'BOOKMARK', { kind, apiVersion: KINDS[kind].apiVersion, metadata: { resourceVersion: String(this.rv) } });
      w.timers.push(setInterval(bookmark, this.options.bookmarkIntervalMs ?? 1000));
    }
  }

  private endWatch(w: OpenWatch, abrupt: boolean): void {
    if (!this.watches.delete(w)) return;
    for (const t of w.timers) clearTimeout(t);
    if (abrupt) w.res.socket?.destroy();
    else w.res.end();
  }
}

export async function startFakeApiServer(options?: FakeApiServerOptions): Promise<FakeApiServer> {
  return new FakeApiServer(options).listen();
}

/** A KubeConfig for the fake server (plain HTTP needs skipTLSVerify in client-node). */
export function kubeConfigFor(server: FakeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'u', token: server.token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  return kc;
}

function kindOf(obj: KubeObject): FakeKind {
  if (obj.kind && obj.kind in KINDS) return obj.kind as FakeKind;
  throw new Error(`fake apiserver: unsupported kind ${String(obj.kind)}`);
}

function objectKey(kind: FakeKind, namespace: string | undefined, name: string | undefined): string {
  if (!name) throw new Error(`fake apiserver: ${kind} without metadata.name`);
  if (KINDS[kind].namespaced && !namespace) throw new Error(`fake apiserver: ${kind} "${name}" without metadata.namespace`);
  return `${kind}/${KINDS[kind].namespaced ? namespace : ''}/${name}`;
}

function send(res: ServerResponse, type: string, object: unknown): void {
  if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify({ type, object })}\n`);
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(res: ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}
