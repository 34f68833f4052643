/**
 * What `meshfed up` prints once everything runs: where each part listens,
 * and how to talk to it (meshfedctl, curl through a sidecar, the zone CPs'
 * debugging API).
 */
import { isAbsolute, relative } from 'node:path';
import { redactUrl } from '../../core/config.js';
import { renderTable } from '../../cli/ctl/output.js';
import { meshHost } from './plan.js';
import type { RunningTopology } from './topology-runner.js';

/** A path as the user would type it from the current directory. */
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export function describeTopology(running: RunningTopology, options: { version: string; source: string; cwd?: string }): string[] {
  const cwd = options.cwd ?? process.cwd();
  const { federation, zones } = running;
  const sidecars = zones.reduce((n, z) => n + z.workloads.length, 0);
  const tenants = new Set(zones.flatMap((z) => z.workloads.map((w) => w.plan.tenant)));
  const lines: string[] = [];
  const say = (line = '') => lines.push(line);
  const indent = (text: string) => text.split('\n').map((l) => `  ${l}`);

  say();
  say(`meshfed ${options.version} is up: ${zones.length} zone${zones.length === 1 ? '' : 's'}, ${tenants.size} tenant${tenants.size === 1 ? '' : 's'} with workloads, ${sidecars} sidecar${sidecars === 1 ? '' : 's'} (${options.source})`);
  say();
  say(`  redis        ${redactUrl(federation.redis.url)}${federation.redis.dataDir ? `   data in ${shown(federation.redis.dataDir, cwd)}` : ''}`);
  say(`  nats         ${redactUrl(federation.nats.url)}${federation.nats.authorization ? '   JetStream, per-zone authorization' : '   JetStream, no authorization (given by URL)'}`);
  say(`  global CP    ${federation.globalCp.url}/api/v1   OpenAPI ${federation.globalCp.url}/openapi.json`);
  say(`  admin token  ${shown(federation.adminTokenFile, cwd)}   (never printed)`);
  say();
  if (zones.length) {
    lines.push(
      ...indent(
        renderTable(zones, [
          { header: 'ZONE', value: (z) => z.plan.name },
          { header: 'REGION', value: (z) => z.plan.region },
          { header: 'ZONE CP API', value: (z) => z.cp.url },
          { header: 'XDS+CERTS (GRPC TLS)', value: (z) => z.cp.grpcAddress },
          { header: 'INGRESS (SNI)', value: (z) => z.ingressAddress },
          { header: 'INGRESS ADMIN', value: (z) => z.ingress.url },
        ]),
      ),
    );
    say();
  }
  const workloads = zones.flatMap((z) => z.workloads);
  if (workloads.length) {
    lines.push(
      ...indent(
        renderTable(workloads, [
          { header: 'ZONE', value: (w) => w.plan.zone },
          { header: 'TENANT', value: (w) => w.plan.tenant },
          { header: 'INSTANCE', value: (w) => `${w.plan.namespace}/${w.plan.instance}${w.plan.role === 'client' ? ' (client)' : ''}` },
          { header: 'WORKLOAD (INBOUND)', value: (w) => `${w.plan.address}:${w.plan.port}` },
          { header: 'OUTBOUND', value: (w) => w.plan.outboundAddress },
          { header: 'APP', value: (w) => `127.0.0.1:${w.app.applicationPort}` },
          { header: 'SIDECAR ADMIN', value: (w) => w.sidecar.url },
        ]),
      ),
    );
    say();
  }

  const ctlConfigHere = shown(federation.ctlConfigFile, cwd) === '.meshfed/meshfedctl.yaml';
  say(ctlConfigHere ? 'meshfedctl, from this directory (it reads .meshfed/meshfedctl.yaml):' : `meshfedctl (first: export MESHFED_CONFIG=${federation.ctlConfigFile}):`);
  say('  node dist/cli/meshfedctl.js get zones');
  say('  node dist/cli/meshfedctl.js get tenants');
  const firstTenant = workloads[0]?.plan.tenant ?? 'acme';
  say(`  node dist/cli/meshfedctl.js get policies --tenant ${firstTenant}`);
  const client = workloads.find((w) => w.plan.traffic);
  if (client?.plan.traffic) {
    say(`Call ${client.plan.traffic.service} yourself through ${client.plan.zone}'s ${client.plan.service} sidecar (${client.plan.tenant}):`);
    say(`  curl -s -H 'Host: ${meshHost(client.plan.traffic)}' http://${client.plan.outboundAddress}:${client.plan.traffic.port}${client.plan.traffic.path}`);
  }
  const zone = zones[0];
  if (zone) {
    say(`What ${zone.plan.name}'s zone CP holds and sends (zone token):`);
    say(`  curl -s -H "Authorization: Bearer $(cat ${shown(running.zoneTokenFile(zone.plan.name), cwd)})" ${zone.cp.url}/api/v1/proxies`);
    say(`  curl -s ${zone.cp.url}/api/v1/state`);
  }
  say('A sidecar\'s or ingress\'s applied config: GET <admin>/status.  Ctrl-C stops everything.');
  return lines;
}
