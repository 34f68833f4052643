import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RESOURCE_TYPES, TYPE_URL } from '../../../core/xds/protos.js';
import { ACME, DB_SIDECAR, GLOBEX, INGRESS, PROXYLESS_CLIENT, WEB_SIDECAR } from './fixtures.js';
import {
  buildTenantModel,
  ingressResources,
  mergeResourceSets,
  proxyOwnResources,
  proxyResources,
  sidecarOutboundResources,
  tenantEndpointResources,
  tenantOutboundResources,
  type ResourceSet,
} from './index.js';
import { protoProblems } from './proto-check.js';

const TESTDATA = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const acme = buildTenantModel(ACME);
const globex = buildTenantModel(GLOBEX);

/** Every golden file and the resource set it holds. */
const GOLDEN: Record<string, ResourceSet> = {
  'acme-outbound-mtls': tenantOutboundResources(acme, { mtls: true }),
  'acme-outbound-mtls-proxyless': tenantOutboundResources(acme, { mtls: true, proxyless: true }),
  'acme-outbound-plaintext': tenantOutboundResources(acme, { mtls: false }),
  'acme-sidecar-outbound': sidecarOutboundResources(acme),
  'acme-endpoints-eu-west-zone-a': tenantEndpointResources(acme, WEB_SIDECAR.locality, { mtls: true }),
  'acme-sidecar-web-1-own': proxyOwnResources(acme, WEB_SIDECAR),
  'acme-sidecar-db-1-own': proxyOwnResources(acme, DB_SIDECAR),
  'ingress-zone-a': ingressResources({ proxy: INGRESS, tenants: [acme, globex], listenPort: 10001 }),
};

/** One YAML document per set: warnings, then each type's resources by name. */
function render(set: ResourceSet): string {
  const doc: Record<string, unknown> = { warnings: set.warnings.map((w) => `${w.code}: ${w.message}`) };
  for (const type of RESOURCE_TYPES) doc[type] = Object.fromEntries(set[type].map((r) => [r.name, r.resource]));
  return stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });
}

describe('golden resources', () => {
  for (const [name, set] of Object.entries(GOLDEN)) {
    it(`${name} matches testdata/${name}.yaml${UPDATE ? ' (updated)' : ''}`, () => {
      const file = join(TESTDATA, `${name}.yaml`);
      const text = render(set);
      if (UPDATE) {
        mkdirSync(TESTDATA, { recursive: true });
        writeFileSync(file, text);
      }
      expect(existsSync(file), `${file} missing: run with UPDATE_GOLDEN=1`).toBe(true);
      expect(text).toBe(readFileSync(file, 'utf8'));
    });

    it(`${name}: every resource encodes, keeps every field and satisfies Envoy's validation rules`, () => {
      const problems = RESOURCE_TYPES.flatMap((type) => set[type].flatMap((r) => protoProblems(TYPE_URL[type], r.resource).map((p) => `${type} ${r.name}${p}`)));
      expect(problems).toEqual([]);
    });

    it(`${name}: lists are sorted by name and names match the resources`, () => {
      for (const type of RESOURCE_TYPES) {
        const names = set[type].map((r) => r.name);
        expect(names).toEqual([...names].sort());
        expect(new Set(names).size).toBe(names.length);
        for (const r of set[type]) expect(r.resource[type === 'endpoint' ? 'cluster_name' : 'name']).toBe(r.name);
      }
    });
  }

  it('a sidecar gets exactly the shared parts plus its own', () => {
    const assembled = proxyResources(acme, WEB_SIDECAR);
    const expected = mergeResourceSets([GOLDEN['acme-outbound-mtls']!, GOLDEN['acme-sidecar-outbound']!, GOLDEN['acme-endpoints-eu-west-zone-a']!, GOLDEN['acme-sidecar-web-1-own']!]);
    for (const type of RESOURCE_TYPES) expect(assembled[type].map((r) => r.name)).toEqual(expected[type].map((r) => r.name));
  });

  it('a proxyless client gets the shared parts and endpoints, no outbound or inbound listeners', () => {
    const assembled = proxyResources(acme, PROXYLESS_CLIENT);
    expect(assembled.listener.every((l) => 'api_listener' in l.resource)).toBe(true);
    expect(assembled.cluster.map((c) => c.name)).toEqual(GOLDEN['acme-outbound-mtls']!.cluster.map((c) => c.name));
  });
});
