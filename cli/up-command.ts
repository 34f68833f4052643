import { Command, Option } from 'commander';
import { existsSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDurationFlag } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { meshfedVersion } from '../core/version.js';
import { describeTopology } from '../deploy/local/describe.js';
import { runFailoverScenario } from '../deploy/local/scenario-failover.js';
import { StatusView, fetchZones, renderStatus } from '../deploy/local/status.js';
import { loadTopology } from '../deploy/local/topology.js';
import { StartAborted, startTopology, type RunningTopology } from '../deploy/local/topology-runner.js';
import { runAction } from './run.js';

interface UpFlags {
  dataDir: string;
  port?: string;
  logLevel: string;
  scenario?: string;
  statusInterval?: string;
  status: boolean;
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** deploy/local/topology.yaml of this installation, found from this file (cli/ in the sources, dist/cli/ when built). */
export function defaultTopologyFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, 'deploy', 'local', 'topology.yaml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return join('deploy', 'local', 'topology.yaml');
}

export function upCommand(): Command {
  return new Command('up')
    .description('Run a whole federation on this machine until Ctrl-C: Redis, NATS, the global CP, and per zone of the topology a zone CP, an east-west ingress and demo workloads with sidecars and traffic.')
    .argument('[topology-file]', 'the topology to run (default: deploy/local/topology.yaml)')
    .addOption(new Option('--data-dir <dir>', 'where Redis, NATS and the zone CPs keep their data, and the admin and zone tokens are written').default('.meshfed'))
    .addOption(new Option('--port <port>', 'preferred port of the global CP API (default: the topology\'s, else 5681)'))
    .addOption(new Option('--scenario <name>', 'walk through a scenario live once everything runs').choices(['failover']))
    .addOption(new Option('--status-interval <duration>', 'how often the live status is shown (default 2s on a terminal, 10s otherwise)'))
    .addOption(new Option('--no-status', 'do not show the live status'))
    .addOption(new Option('--log-level <level>', 'log level of every component (JSON lines on stdout, among the status)').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('error'))
    .action(
      runAction('meshfed up', async (file: string | undefined, flags: UpFlags) => {
        const say = (line: string) => console.log(line);
        let port: number | undefined;
        if (flags.port !== undefined) {
          port = Number(flags.port);
          if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`--port: "${flags.port}" is not a port number`);
        }
        const tty = Boolean(process.stdout.isTTY);
        const intervalMs = flags.statusInterval ? parseDurationFlag('--status-interval', flags.statusInterval, 500) : tty ? 2000 : 10_000;
        const loaded = await loadTopology(file ?? defaultTopologyFile());

        // Signals are ours from here on: a Ctrl-C while starting stops what has started, a second one exits at once
        // (redis-server and nats-server are killed on exit either way).
        const stopRequested = new AbortController();
        let starting = true;
        const onSignal = (signal: NodeJS.Signals) => {
          if (stopRequested.signal.aborted) {
            console.error(`\n${signal} again: exiting without a clean stop`);
            process.exit(130);
          }
          if (starting) say(`\n${signal}: stopping what has started once the current start-up step ends (again: exit at once) …`);
          stopRequested.abort(signal);
        };
        for (const s of STOP_SIGNALS) process.on(s, onSignal);
        const stopped = new Promise<void>((resolve) => stopRequested.signal.addEventListener('abort', () => resolve(), { once: true }));

        say(`meshfed up: ${loaded.source}`);
        const version = meshfedVersion();
        let running: RunningTopology;
        try {
          running = await startTopology({ loaded, dataDir: flags.dataDir, version, logLevel: flags.logLevel, say, signal: stopRequested.signal, ...(port ? { port } : {}) });
        } catch (error) {
          if (!(error instanceof StartAborted)) throw error;
          say('stopped.');
          return;
        }
        starting = false;
        const stop = async () => {
          say(`\n${String(stopRequested.signal.reason ?? 'stop')}: stopping traffic, zones (sidecars, ingresses, zone CPs), global CP, NATS, Redis …`);
          await running.stop();
          say('stopped.');
        };

        for (const line of describeTopology(running, { version, source: loaded.source })) say(line);
        say('');
        const startedAt = Date.now();
        const windowSeconds = 5;
        // Everything but Redis and NATS shares this process's event loop: a stalled loop shows in every latency.
        const loopDelay = monitorEventLoopDelay({ resolution: 20 });
        loopDelay.enable();
        const eventLoop = () => {
          const sample = { p99Ms: loopDelay.percentile(99) / 1e6, maxMs: loopDelay.max / 1e6 };
          loopDelay.reset();
          return sample;
        };
        const view = new StatusView({
          out: process.stdout,
          tty,
          intervalMs,
          frame: async () => renderStatus({ now: Date.now(), startedAt, zones: await fetchZones(running.federation.globalCp.url, running.federation.adminToken), clients: running.traffic(windowSeconds), windowSeconds, eventLoop: eventLoop() }),
        });

        if (flags.scenario === 'failover') await scenario(running, say, stopRequested.signal);
        if (!stopRequested.signal.aborted && flags.status) view.start();
        await stopped;
        await view.stop();
        loopDelay.disable();
        await stop();
      }),
    );
}

async function scenario(running: RunningTopology, say: (line: string) => void, signal: AbortSignal): Promise<void> {
  try {
    await runFailoverScenario(running, { say, signal });
    say('');
    say('scenario done; the federation keeps running (Ctrl-C stops it).');
    say('');
  } catch (error) {
    if (!signal.aborted) throw error;
  }
}
