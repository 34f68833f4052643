/**
 * The `meshfed up` topology file: the default one and the examples it
 * applies agree; bad files are refused with the field named, and the CLI
 * exits 2 with that one message, never a stack trace.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.js';
import { planTopology } from '../../deploy/local/plan.js';
import { planFailover } from '../../deploy/local/scenario-failover.js';
import { answeredBy, renderTraffic } from '../../deploy/local/status.js';
import { loadTopology, parseTopology } from '../../deploy/local/topology.js';
import { summarize } from '../../deploy/local/traffic.js';
import { ROOT, runCli } from '../helpers/processes.js';

const DEFAULT_TOPOLOGY = join(ROOT, 'deploy/local/topology.yaml');
const QUICKSTART = join(ROOT, 'deploy/examples/quickstart.yaml');

const good = {
  zones: [
    { name: 'zone-a', region: 'eu-west', services: [{ tenant: 'acme', namespace: 'shop', name: 'echo', port: 8080, instances: 2 }], clients: [{ tenant: 'acme', namespace: 'shop', service: 'web', calls: 'echo.shop:8080' }] },
    { name: 'zone-b', region: 'eu-west' },
  ],
};

/** The message parseTopology throws for `value` (as YAML text), or undefined when it is accepted. */
function problemOf(value: unknown): string | undefined {
  try {
    parseTopology(typeof value === 'string' ? value : stringify(value), 'topology.yaml');
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
}

const withZone = (patch: Record<string, unknown>, index = 0) => ({ ...good, zones: good.zones.map((z, i) => (i === index ? { ...z, ...patch } : z)) });
const withClient = (patch: Record<string, unknown>) => withZone({ clients: [{ ...good.zones[0]!.clients![0], ...patch }] });

describe('topology file', () => {
  it('the default topology loads with its manifests: three zones in two regions, two tenants, a failover path', async () => {
    const loaded = await loadTopology(DEFAULT_TOPOLOGY, ROOT);
    expect(loaded.source).toBe('deploy/local/topology.yaml');
    expect(loaded.topology.zones.map((z) => `${z.name}/${z.region}`)).toEqual(['zone-a/eu-west', 'zone-b/eu-west', 'zone-c/us-east']);
    // The manifests place the tenants where the topology runs their workloads (checked by loadTopology), as quickstart.yaml says.
    expect(Object.fromEntries([...loaded.facts.tenants].map(([t, f]) => [t, f.zones]))).toEqual({ acme: ['zone-a', 'zone-b', 'zone-c'], globex: ['zone-b'] });
    expect(loaded.documents.filter((d) => d.kind === 'LocalityFailover').map((d) => d.name)).toEqual(['cross-region']);
    expect(loaded.notes).toEqual([]);

    const plans = planTopology(loaded.topology);
    const workloads = plans.flatMap((p) => p.workloads);
    expect(workloads).toHaveLength(11);
    const addresses = workloads.flatMap((w) => [w.address, w.outboundAddress]);
    expect(new Set(addresses).size).toBe(addresses.length);
    expect(workloads.find((w) => w.instance === 'web-zone-a')).toMatchObject({ address: '127.77.1.3', outboundAddress: '127.77.101.3', port: 9000, traffic: { service: 'echo', namespace: 'shop', port: 8080, rate: 20 } });
    expect(planFailover(plans)).toMatchObject({ local: 'zone-a', sameRegion: 'zone-b', otherRegion: 'zone-c', client: { tenant: 'acme', service: 'web' } });
    // quickstart.yaml's web-canary splits web between v1 and v2: both run somewhere, v2 in zone-b only.
    const webVersions = workloads.filter((w) => w.tenant === 'acme' && w.service === 'web').map((w) => `${w.zone}=${w.tags.version}`);
    expect(webVersions).toEqual(['zone-a=v1', 'zone-b=v2', 'zone-c=v1']);
  });

  it('accepts a minimal file, and one with no zones at all (just the control plane)', () => {
    expect(problemOf(good)).toBeUndefined();
    expect(problemOf({ zones: [] })).toBeUndefined();
  });

  it.each([
    ['a region that is no DNS label', withZone({ region: 'EU_West' }, 1), 'topology.yaml: /zones/1/region: must be a DNS-1123 label'],
    ['a missing region', { zones: [{ name: 'zone-a' }] }, 'topology.yaml: /zones/0/region: is required'],
    ['no zones', {}, 'topology.yaml: /zones: is required'],
    ['zones that are no list', { zones: 'zone-a' }, 'topology.yaml: /zones: must be a list'],
    ['an unknown field', { ...good, zone: [] }, 'topology.yaml: /zone: unknown field (known: manifests, globalCp, redis, nats, network, zones)'],
    ['a misspelt field in a zone', withZone({ service: [] }), 'topology.yaml: /zones/0/service: unknown field'],
    ['zero instances', withZone({ services: [{ tenant: 'acme', namespace: 'shop', name: 'echo', port: 8080, instances: 0 }] }), '/zones/0/services/0/instances: must be a whole number from 1 to 20'],
    ['a port out of range', withZone({ services: [{ tenant: 'acme', namespace: 'shop', name: 'echo', port: 70000, instances: 1 }] }), '/zones/0/services/0/port: must be a port number'],
    ['a tag key that is no label key', withZone({ services: [{ tenant: 'acme', namespace: 'shop', name: 'echo', port: 8080, instances: 1, tags: { 'the version': 'v1' } }] }), '/zones/0/services/0/tags/the version: is not a valid label key'],
    ['a call target without port', withClient({ calls: 'echo.shop' }), '/zones/0/clients/0/calls: must be <service>.<namespace>:<port>'],
    ['a rate of 0', withClient({ rate: 0 }), '/zones/0/clients/0/rate: must be a number of requests per second above 0'],
    ['a client tag key that is no label key', withClient({ tags: { 'the version': 'v1' } }), '/zones/0/clients/0/tags/the version: is not a valid label key'],
    ['a bad loopback prefix', { ...good, network: { loopbackPrefix: '10.1' } }, '/network/loopbackPrefix: must be "127.<0-255>"'],
    ['a Redis URL of another scheme', { ...good, redis: { url: 'http://x' } }, '/redis/url: must be a redis:// or rediss:// URL'],
    ['a zone listed twice', { zones: [good.zones[0], { ...good.zones[0], services: [], clients: [] }] }, '/zones/1/name: zone "zone-a" is already listed at /zones/0'],
    ['a client calling what no zone runs', withClient({ calls: 'cart.shop:8080' }), '/zones/0/clients/0/calls: no zone runs cart.shop for tenant acme'],
    ['a client calling another port', withClient({ calls: 'echo.shop:8081' }), '/zones/0/clients/0/calls: echo.shop of tenant acme listens on 8080, not 8081'],
    ['a client whose own port is the one it calls', withClient({ port: 8080 }), '/zones/0/clients/0/port: 8080 is the port it calls'],
    ['a client named like a service', withClient({ service: 'echo' }), '/zones/0/clients/0/service: shop/echo of tenant acme also runs echo instances'],
    ['YAML that does not parse', 'zones: [\n', 'topology.yaml: not valid YAML'],
    ['a document that is no mapping', '- zone-a\n', 'topology.yaml: /: must be a mapping'],
  ])('refuses %s, naming the field', (_name, value, message) => {
    expect(problemOf(value)).toContain(message);
  });

  it('lists every problem when there are several', () => {
    const message = problemOf({ zones: [{ name: 'Zone A', region: 'eu west' }] });
    expect(message).toBe(
      [
        'topology.yaml: 2 problems:',
        '  /zones/0/name: must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)',
        '  /zones/0/region: must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)',
      ].join('\n'),
    );
  });

  describe('with its manifests', () => {
    let dir: string;
    const load = async (topology: unknown, manifest?: string) => {
      const file = join(dir, `t-${Math.random().toString(36).slice(2)}.yaml`);
      if (manifest !== undefined) await writeFile(join(dir, 'extra.yaml'), manifest);
      await writeFile(file, stringify(topology));
      return loadTopology(file, dir);
    };
    const refusal = async (topology: unknown, manifest?: string) => {
      const error = await load(topology, manifest).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      return error!.message;
    };
    const quickstart = { manifests: [QUICKSTART] };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshfed-topology-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses a region that disagrees with the zone\'s registration in a manifest', async () => {
      expect(await refusal({ ...quickstart, zones: [{ name: 'zone-c', region: 'eu-west' }] })).toMatch(/^t-\w+\.yaml: \/zones\/0\/region: is "eu-west" but .*quickstart\.yaml#3 registers zone-c in region "us-east"$/);
    });

    it('refuses workloads of a tenant not placed in their zone, or created by no manifest', async () => {
      const globexInZoneA = { ...quickstart, zones: [{ name: 'zone-a', region: 'eu-west', services: [{ tenant: 'globex', namespace: 'shop', name: 'echo', port: 8080, instances: 1 }] }] };
      expect(await refusal(globexInZoneA)).toMatch(/\/zones\/0\/services\/0\/tenant: tenant "globex" is not placed in zone-a \(.*quickstart\.yaml#5 places it in zone-b\)$/);
      expect(await refusal({ zones: good.zones })).toContain('/zones/0/services/0/tenant: tenant "acme" is not created by any manifest');
    });

    it('refuses a manifest that is wrong, naming the document and field, and one that cannot be read', async () => {
      const badPolicy = 'apiVersion: meshfed.io/v1alpha1\nkind: Timeout\nmetadata: { name: t, tenant: acme }\nspec: { targetRef: { kind: Tenant }, connect: soon }\n';
      const message = await refusal({ manifests: ['extra.yaml'], zones: [] }, badPolicy);
      expect(message).toMatch(/^t-\w+\.yaml: \/manifests\/0: extra\.yaml: 1 problem found; nothing was applied\n {2}extra\.yaml#1 \(Timeout\) t: \/spec\/connect: /);
      expect(await refusal({ manifests: ['missing.yaml'], zones: [] })).toMatch(/\/manifests\/0: cannot read missing\.yaml: ENOENT$/);
    });

    it('takes zones no manifest declares (registered as universal zones at start), and notes registered zones it does not run', async () => {
      const loaded = await load({ ...quickstart, zones: [{ name: 'zone-a', region: 'eu-west' }, { name: 'zone-x', region: 'ap-south' }] });
      expect(loaded.topology.zones).toHaveLength(2);
      expect(loaded.notes).toEqual([expect.stringContaining('zone zone-b is registered'), expect.stringContaining('zone zone-c is registered')]);
    });
  });

  it('`meshfed up` with a bad file exits 2 with that one message, never a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshfed-topology-'));
    const topology = parse(stringify(good)) as typeof good;
    topology.zones[1]!.region = 'Not A Label';
    await writeFile(join(dir, 'topology.yaml'), stringify(topology));
    const result = await runCli('cli/meshfed.ts', ['up', join(dir, 'topology.yaml'), '--data-dir', join(dir, 'data')]);
    await rm(dir, { recursive: true, force: true });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(`meshfed up: ${join(dir, 'topology.yaml')}: /zones/1/region: must be a DNS-1123 label (lowercase letters, digits and "-", at most 63 characters)`);
    expect(result.stdout).toBe('');
  });
});

describe('traffic numbers', () => {
  it('summarize counts answers per zone, failures by reason, answers of another tenant, and latency quantiles', () => {
    const at = 1_000_000;
    const window = summarize(
      [
        { at, latencyMs: 5, status: 200, zone: 'zone-a', tenant: 'acme' },
        { at, latencyMs: 7, status: 200, zone: 'zone-b', tenant: 'acme' },
        { at, latencyMs: 9, status: 200, zone: 'zone-b', tenant: 'acme' },
        { at, latencyMs: 3, status: 200, zone: 'zone-b', tenant: 'globex' },
        { at, latencyMs: 1, status: 503, error: 'HTTP 503 no healthy upstream' },
      ],
      2,
      'acme',
    );
    expect(window).toMatchObject({ sent: 5, ok: 4, failed: 1, rate: 2.5, byZone: { 'zone-a': 1, 'zone-b': 3 }, foreignTenant: 1, p50Ms: 7, topError: { error: 'HTTP 503 no healthy upstream', count: 1 } });
    expect(answeredBy(window)).toBe('zone-b 75%  zone-a 25%');
    const lines = renderTraffic([{ zone: 'zone-a', tenant: 'acme', calls: 'web → echo.shop:8080', window }]);
    expect(lines[1]).toMatch(/^zone-a\s+acme\s+web → echo\.shop:8080\s+2\.5\/s\s+80%\s+7ms\s+9ms\s+zone-b 75% {2}zone-a 25%\s+1 \(HTTP 503 no healthy upstream\)$/);
    expect(lines[2]).toBe('!! zone-a acme: 1 answers came from another tenant');
  });
});
