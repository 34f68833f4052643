import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, Name, NameConstraints, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import { describe, expect, it } from 'vitest';
import { SIGNING_ALGORITHM, generateKeyPair, x509 } from '../../core/pki/crypto.js';
import { nameConstraintsProblem, uriHostMatches } from './name-constraints.js';

type Base = Partial<GeneralName>;

async function caWith(constraints?: { permitted?: Base[]; excluded?: Base[]; minimum?: number }): Promise<x509.X509Certificate> {
  const keys = await generateKeyPair();
  const subtrees = (bases?: Base[]) => (bases ? new GeneralSubtrees(bases.map((b) => new GeneralSubtree({ base: new GeneralName(b), minimum: constraints?.minimum ?? 0 }))) : undefined);
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(true, undefined, true)];
  if (constraints) {
    const value = new NameConstraints({ permittedSubtrees: subtrees(constraints.permitted), excludedSubtrees: subtrees(constraints.excluded) });
    extensions.push(new x509.Extension(id_ce_nameConstraints, true, AsnConvert.serialize(value)));
  }
  return x509.X509CertificateGenerator.createSelfSigned({ serialNumber: '01', name: 'CN=ca', keys, signingAlgorithm: SIGNING_ALGORITHM, extensions });
}

describe('name constraints of an uploaded CA against a trust domain', () => {
  it('matches URI constraints on the host as RFC 5280 and OpenSSL do', () => {
    expect(uriHostMatches('acme.mesh', 'acme.mesh')).toBe(true);
    expect(uriHostMatches('acme.mesh', 'ACME.mesh')).toBe(true);
    expect(uriHostMatches('acme.mesh', '.mesh')).toBe(true);
    expect(uriHostMatches('acme.mesh', '.acme.mesh')).toBe(false);
    expect(uriHostMatches('acme.mesh', 'mesh')).toBe(false);
    expect(uriHostMatches('acme.mesh', 'spiffe://acme.mesh')).toBe(false);
    expect(uriHostMatches('xacme.mesh', 'acme.mesh')).toBe(false);
  });

  it('lets through a CA without constraints, or whose constraints permit the trust domain', async () => {
    expect(nameConstraintsProblem(await caWith(), 'acme.mesh')).toBeUndefined();
    expect(nameConstraintsProblem(await caWith({ permitted: [{ uniformResourceIdentifier: 'acme.mesh' }] }), 'acme.mesh')).toBeUndefined();
    expect(nameConstraintsProblem(await caWith({ permitted: [{ uniformResourceIdentifier: 'other.mesh' }, { uniformResourceIdentifier: '.mesh' }] }), 'acme.mesh')).toBeUndefined();
    // DNS and IP constraints cannot touch SVIDs (they carry URI SANs only).
    expect(nameConstraintsProblem(await caWith({ permitted: [{ dNSName: 'corp.example' }], excluded: [{ iPAddress: '10.0.0.0/8' }] }), 'acme.mesh')).toBeUndefined();
  });

  it('names the constraint that shuts the trust domain out', async () => {
    expect(nameConstraintsProblem(await caWith({ permitted: [{ uniformResourceIdentifier: 'other.mesh' }] }), 'acme.mesh')).toBe(
      'its name constraints permit only URIs under "other.mesh", not trust domain "acme.mesh"',
    );
    expect(nameConstraintsProblem(await caWith({ excluded: [{ uniformResourceIdentifier: '.mesh' }] }), 'acme.mesh')).toBe(
      'its name constraints exclude URI ".mesh", which covers trust domain "acme.mesh"',
    );
    expect(nameConstraintsProblem(await caWith({ permitted: [{ uniformResourceIdentifier: 'acme.mesh' }], excluded: [{ uniformResourceIdentifier: 'acme.mesh' }] }), 'acme.mesh')).toMatch(/exclude/);
  });

  it('refuses constraints meshfed cannot honour or verifiers reject', async () => {
    expect(nameConstraintsProblem(await caWith({ permitted: [{ directoryName: new Name() }] }), 'acme.mesh')).toMatch(/directory names/);
    expect(nameConstraintsProblem(await caWith({ permitted: [{ registeredID: '1.2.3.4' }] }), 'acme.mesh')).toMatch(/name type meshfed does not support/);
    expect(nameConstraintsProblem(await caWith({ permitted: [{ uniformResourceIdentifier: 'acme.mesh' }], minimum: 1 }), 'acme.mesh')).toMatch(/minimum\/maximum/);
  });
});
