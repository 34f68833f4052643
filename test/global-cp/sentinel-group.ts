import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../deploy/local/free-port.js';
import { eventually } from '../helpers/eventually.js';

export const MASTER_NAME = 'mymaster';

/**
 * A real Sentinel group on loopback: a primary, one replica and three
 * sentinels (quorum 2), each a redis-server process (`--sentinel` for the
 * sentinels), with passwords on the data nodes and on the sentinels.
 */
export interface SentinelGroup {
  /** Data-node password and sentinel password (the test checks they never show). */
  password: string;
  sentinelPassword: string;
  primaryPort: number;
  replicaPort: number;
  sentinelPorts: number[];
  /** redis-sentinel://:password@127.0.0.1:s1,…/mymaster?sentinelPassword=…[&db=N] */
  url(db?: number): string;
  /** A plain client of one data node (to look behind the global CP's back). */
  node(port: number, db?: number): Redis;
  /** A client of one sentinel. */
  sentinel(index: number): Redis;
  /** The primary each sentinel names now, as ports. */
  mastersNamed(): Promise<number[]>;
  /** The last lines of every process's log, for a failure message. */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

export async function startSentinelGroup(dir: string): Promise<SentinelGroup> {
  const password = randomBytes(8).toString('hex');
  const sentinelPassword = randomBytes(8).toString('hex');
  const [primaryPort, replicaPort, ...sentinelPorts] = await distinctFreePorts(5);
  const processes: Array<{ name: string; child: ChildProcess; log: string }> = [];
  const clients: Redis[] = [];
  const client = (port: number, options: { password: string; db?: number }) => {
    // Reconnects quickly: Sentinel kills the data nodes' clients during a failover.
    const redis = new Redis({ host: '127.0.0.1', port, ...options, retryStrategy: () => 50, maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  };

  const launch = async (name: string, args: string[]) => {
    const nodeDir = join(dir, name);
    await mkdir(nodeDir, { recursive: true });
    const log = join(nodeDir, 'redis.log');
    const child = spawn('redis-server', [...args, '--dir', nodeDir, '--logfile', log], { cwd: nodeDir, stdio: 'ignore' });
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
    processes.push({ name, child, log });
  };
  const dataNode = (port: number, replicaOf?: number) =>
    launch(`redis-${port}`, [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--requirepass', password, '--masterauth', password,
      // A replica's first full sync otherwise waits 5 s for more replicas to join it.
      '--repl-diskless-sync-delay', '0',
      ...(replicaOf ? ['--replicaof', '127.0.0.1', String(replicaOf)] : []),
    ]);

  const group: SentinelGroup = {
    password,
    sentinelPassword,
    primaryPort,
    replicaPort,
    sentinelPorts,
    url: (db) =>
      `redis-sentinel://:${password}@${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER_NAME}?sentinelPassword=${sentinelPassword}${db === undefined ? '' : `&db=${db}`}`,
    node: (port, db) => client(port, { password, ...(db === undefined ? {} : { db }) }),
    sentinel: (index) => client(sentinelPorts[index]!, { password: sentinelPassword }),
    async mastersNamed() {
      return Promise.all(sentinelClients.map(async (s) => Number(((await s.call('SENTINEL', 'get-master-addr-by-name', MASTER_NAME)) as [string, string] | null)?.[1])));
    },
    async logs() {
      const tails = await Promise.all(processes.map(async (p) => `--- ${p.name}\n${(await readFile(p.log, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n')}`));
      return tails.join('\n');
    },
    async stop() {
      await Promise.all(clients.map((c) => c.quit().catch(() => undefined).finally(() => c.disconnect())));
      await Promise.all(processes.map(({ child }) => stopProcess(child)));
    },
  };
  let sentinelClients: Redis[] = [];

  try {
    await dataNode(primaryPort);
    await dataNode(replicaPort, primaryPort);
    const replica = group.node(replicaPort);
    await eventually(async () => {
      if (!/master_link_status:up/.test(await replica.info('replication'))) throw new Error('the replica is not in sync yet');
    }, 10_000, 50);
    for (const port of sentinelPorts) {
      const config = join(dir, `sentinel-${port}.conf`);
      await writeFile(
        config,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `requirepass ${sentinelPassword}`,
          `sentinel sentinel-pass ${sentinelPassword}`,
          `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${primaryPort} 2`,
          `sentinel auth-pass ${MASTER_NAME} ${password}`,
          `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
          `sentinel failover-timeout ${MASTER_NAME} 10000`,
          // Else a sentinel learns of the replica only at its next INFO of the primary, up to 10 s later.
          `sentinel known-replica ${MASTER_NAME} 127.0.0.1 ${replicaPort}`,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );
      await launch(`sentinel-${port}`, [config, '--sentinel']);
    }
    sentinelClients = sentinelPorts.map((_, i) => group.sentinel(i));
    // Ready when every sentinel names the primary and sees the replica as a healthy candidate for promotion.
    await eventually(async () => {
      for (const s of sentinelClients) {
        const replicas = ((await s.call('SENTINEL', 'replicas', MASTER_NAME)) as string[][]).map(fields);
        const healthy = replicas.find((r) => r.port === String(replicaPort) && r.flags === 'slave' && r['master-link-status'] === 'ok');
        if (!healthy) throw new Error(`a sentinel does not see the replica yet: ${JSON.stringify(replicas)}`);
      }
      allName(await group.mastersNamed(), primaryPort);
    }, 15_000, 50);
    return group;
  } catch (error) {
    const logs = await group.logs();
    await group.stop();
    throw new Error(`could not start the Sentinel group: ${(error as Error).message}\n${logs}`);
  }
}

function allName(ports: number[], port: number): void {
  if (ports.some((p) => p !== port)) throw new Error(`the sentinels name ${ports.join(', ')}, not ${port}`);
}

/** SENTINEL replies list a record as [field, value, field, value, …]. */
function fields(flat: string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!;
  return record;
}

async function distinctFreePorts(n: number): Promise<[number, number, ...number[]]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports] as [number, number, ...number[]];
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, 'exit');
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(killer);
}
