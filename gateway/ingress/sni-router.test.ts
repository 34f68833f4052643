import { describe, expect, it } from 'vitest';
import { clusterName, ingressSni } from '../../core/xds/names.js';
import { decideIngressRoute, type IngressRoutingTable } from './sni-router.js';

const ECHO = clusterName('echo', 'demo', 8443);
const table: IngressRoutingTable = {
  [ingressSni('acme', 'echo', 'demo', 8443)]: { tenant: 'acme', cluster: ECHO },
  [ingressSni('acme', 'echo', 'demo', 8443, 'v2')]: { tenant: 'acme', cluster: clusterName('echo', 'demo', 8443, { version: 'v2' }) },
  [ingressSni('globex', 'echo', 'demo', 8443)]: { tenant: 'globex', cluster: 'globex-echo' },
  // A table entry that claims another tenant's cluster: must never be used.
  [ingressSni('initech', 'db', 'prod', 5432)]: { tenant: 'acme', cluster: ECHO },
};
const placed = new Set(['acme', 'initech']);

describe('decideIngressRoute', () => {
  it('routes an exact SNI of a placed tenant to its cluster', () => {
    expect(decideIngressRoute('8443.echo.demo.acme.mesh', table, placed)).toEqual({
      route: ECHO,
      tenant: 'acme',
      target: { tenant: 'acme', namespace: 'demo', service: 'echo', port: 8443 },
    });
    expect(decideIngressRoute('v2.8443.echo.demo.acme.mesh', table, placed)).toMatchObject({ route: 'echo.demo.mesh:8443|version=v2', target: { subset: 'v2' } });
  });

  it('matches SNI case-insensitively, as DNS names are', () => {
    expect(decideIngressRoute('8443.Echo.DEMO.acme.mesh', table, placed)).toMatchObject({ route: ECHO });
  });

  it('rejects a missing or empty SNI', () => {
    expect(decideIngressRoute(undefined, table, placed)).toEqual({ reject: 'no-sni' });
    expect(decideIngressRoute('', table, placed)).toEqual({ reject: 'no-sni' });
  });

  it('rejects names that are not ingress SNIs', () => {
    for (const sni of ['echo.demo.mesh', 'example.com', '8443.echo.demo.acme.mesh.', '0.echo.demo.acme.mesh', '70000.echo.demo.acme.mesh', 'a.b.8443.echo.demo.acme.mesh', '8443.ec_ho.demo.acme.mesh', '__proto__', 'constructor']) {
      expect(decideIngressRoute(sni, table, placed), sni).toEqual({ reject: 'invalid-sni' });
    }
  });

  it('rejects a tenant not placed in this zone, even when the table knows the SNI', () => {
    expect(decideIngressRoute('8443.echo.demo.globex.mesh', table, placed)).toMatchObject({ reject: 'tenant-not-placed', target: { tenant: 'globex' } });
    expect(decideIngressRoute('8443.echo.demo.umbrella.mesh', table, placed)).toMatchObject({ reject: 'tenant-not-placed' });
  });

  it('rejects an SNI of a placed tenant that has no route, with no fallback to a similar one', () => {
    for (const sni of ['8443.other.demo.acme.mesh', '8080.echo.demo.acme.mesh', 'v3.8443.echo.demo.acme.mesh', '8443.echo.prod.acme.mesh']) {
      expect(decideIngressRoute(sni, table, placed), sni).toMatchObject({ reject: 'unknown-sni' });
    }
  });

  it("never routes one tenant's SNI to a cluster registered for another tenant", () => {
    expect(decideIngressRoute('5432.db.prod.initech.mesh', table, placed)).toMatchObject({ reject: 'tenant-mismatch' });
  });

  it('does not read inherited properties of the table', () => {
    const inherited = Object.create({ '8443.echo.demo.acme.mesh': { tenant: 'acme', cluster: ECHO } }) as IngressRoutingTable;
    expect(decideIngressRoute('8443.echo.demo.acme.mesh', inherited, placed)).toMatchObject({ reject: 'unknown-sni' });
    expect(decideIngressRoute('8443.echo.demo.acme.mesh', {}, new Set())).toMatchObject({ reject: 'tenant-not-placed' });
  });
});
