import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { checkPolicySemantics, type PolicyContext } from './index.js';
import { LocalityFailoverSpec } from './locality-failover.js';

const ctx: PolicyContext = { tenant: 'acme', trustDomain: 'acme.mesh', knownRegions: new Set(['us-east', 'eu-west', 'ap-south']) };
const schema = TypeCompiler.Compile(LocalityFailoverSpec);
const schemaErrorPaths = (value: unknown) => [...schema.Errors(value)].map((e) => e.path);
const check = (spec: unknown, context: PolicyContext = ctx) => checkPolicySemantics('LocalityFailover', spec, context);

const valid: LocalityFailoverSpec = {
  targetRef: { kind: 'Tenant' },
  crossRegion: [
    { from: 'eu-west', to: ['us-east', 'ap-south'] },
    { from: 'us-east', to: ['eu-west'] },
  ],
  allowCrossRegion: true,
  spilloverThreshold: 72,
};

describe('LocalityFailover semantics', () => {
  it('accepts the valid spec and an empty one', () => {
    expect(check(valid)).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' } })).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' }, allowCrossRegion: false })).toEqual([]);
    expect(check({ targetRef: { kind: 'Tenant' }, allowCrossRegion: false, crossRegion: [] })).toEqual([]);
  });

  it('reports a region listed twice as from, at the second entry', () => {
    const spec = { ...valid, crossRegion: [...valid.crossRegion!, { from: 'eu-west', to: ['ap-south'] }] };
    expect(check(spec)).toEqual([{ path: '/spec/crossRegion/2/from', message: 'region "eu-west" is listed twice' }]);
  });

  it('reports an unknown from region, naming the known ones sorted', () => {
    const spec = { ...valid, crossRegion: [{ from: 'mars-1', to: ['eu-west'] }] };
    expect(check(spec)).toEqual([
      { path: '/spec/crossRegion/0/from', message: 'no registered zone is in region "mars-1" (known regions: ap-south, eu-west, us-east)' },
    ]);
  });

  it('reports an unknown to region at its index', () => {
    const spec = { ...valid, crossRegion: [{ from: 'eu-west', to: ['us-east', 'mars-1'] }] };
    expect(check(spec)).toEqual([
      { path: '/spec/crossRegion/0/to/1', message: 'no registered zone is in region "mars-1" (known regions: ap-south, eu-west, us-east)' },
    ]);
  });

  it('says "none" when no regions are known', () => {
    const issues = check({ targetRef: { kind: 'Tenant' }, crossRegion: [{ from: 'eu-west', to: ['us-east'] }] }, { ...ctx, knownRegions: new Set() });
    expect(issues).toEqual([
      { path: '/spec/crossRegion/0/from', message: 'no registered zone is in region "eu-west" (known regions: none)' },
      { path: '/spec/crossRegion/0/to/0', message: 'no registered zone is in region "us-east" (known regions: none)' },
    ]);
  });

  it('refuses failing over to the same region', () => {
    const spec = { ...valid, crossRegion: [{ from: 'eu-west', to: ['us-east', 'eu-west'] }] };
    expect(check(spec)).toEqual([{ path: '/spec/crossRegion/0/to/1', message: 'a region cannot fail over to itself' }]);
  });

  it('refuses crossRegion entries with allowCrossRegion: false', () => {
    expect(check({ ...valid, allowCrossRegion: false })).toEqual([{ path: '/spec/crossRegion', message: 'contradicts allowCrossRegion: false' }]);
  });
});

describe('LocalityFailover schema', () => {
  it('accepts the valid spec', () => {
    expect(schemaErrorPaths(valid)).toEqual([]);
    expect(schema.Check({ targetRef: { kind: 'Tenant' } })).toBe(true);
  });

  it('rejects unknown fields', () => {
    expect(schemaErrorPaths({ ...valid, regions: [] })).toContain('/regions');
    expect(schema.Check({ ...valid, crossRegion: [{ from: 'eu-west', to: ['us-east'], weight: 1 }] })).toBe(false);
  });

  it('rejects wrong types and out-of-range values', () => {
    expect(schemaErrorPaths({ ...valid, crossRegion: [{ from: 'eu-west', to: [] }] })).toContain('/crossRegion/0/to');
    expect(schemaErrorPaths({ ...valid, crossRegion: [{ from: 'eu-west', to: ['us-east', 'us-east'] }] })).toContain('/crossRegion/0/to');
    expect(schemaErrorPaths({ ...valid, crossRegion: [{ from: 'EU-West', to: ['us-east'] }] })).toContain('/crossRegion/0/from');
    expect(schemaErrorPaths({ ...valid, crossRegion: [{ from: 'eu-west', to: 'us-east' }] })).toContain('/crossRegion/0/to');
    expect(schemaErrorPaths({ ...valid, crossRegion: [{ to: ['us-east'] }] })).toContain('/crossRegion/0/from');
    expect(schemaErrorPaths({ ...valid, allowCrossRegion: 'no' })).toContain('/allowCrossRegion');
    expect(schemaErrorPaths({ ...valid, spilloverThreshold: 0 })).toContain('/spilloverThreshold');
    expect(schemaErrorPaths({ ...valid, spilloverThreshold: 101 })).toContain('/spilloverThreshold');
    expect(schemaErrorPaths({ ...valid, spilloverThreshold: 50.5 })).toContain('/spilloverThreshold');
  });
});
