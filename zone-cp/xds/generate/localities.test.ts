import { describe, expect, it } from 'vitest';
import { locality } from './fixtures.js';
import { localityKey, localityPriorities, overprovisioningFactor } from './localities.js';

const proxy = locality('eu-west', 'zone-a', 'rack-1');
const OWN_ZONE = locality('eu-west', 'zone-a', 'rack-2');
const OWN_REGION = locality('eu-west', 'zone-b');
const US = locality('us-east', 'zone-c');
const AP = locality('ap-south', 'zone-d');
const SA = locality('sa-east', 'zone-e');

/** zone → priority, for readable expectations. */
const priorities = (localities: ReturnType<typeof locality>[], policy?: Parameters<typeof localityPriorities>[2]): Record<string, number> =>
  Object.fromEntries([...localityPriorities(proxy, localities, policy)].map(([k, p]) => [k.split('/')[1]!, p]));

describe('localityPriorities', () => {
  it('own zone (any subzone) 0, rest of the region 1, every other region 2 without a policy', () => {
    expect(priorities([OWN_ZONE, OWN_REGION, US, AP])).toEqual({ 'zone-a': 0, 'zone-b': 1, 'zone-c': 2, 'zone-d': 2 });
  });

  it('closes gaps: levels without localities do not count', () => {
    expect(priorities([US, AP])).toEqual({ 'zone-c': 0, 'zone-d': 0 });
    expect(priorities([OWN_ZONE, US])).toEqual({ 'zone-a': 0, 'zone-c': 1 });
  });

  it('follows the crossRegion list of the proxy\'s region, in order, and excludes regions it does not list', () => {
    const policy = { crossRegion: [{ from: 'eu-west', to: ['ap-south', 'us-east'] }] };
    expect(priorities([OWN_ZONE, OWN_REGION, US, AP, SA], policy)).toEqual({ 'zone-a': 0, 'zone-b': 1, 'zone-d': 2, 'zone-c': 3 });
    expect(priorities([US], policy)).toEqual({ 'zone-c': 0 });
  });

  it('puts every other region at one level when the proxy\'s region has no crossRegion entry', () => {
    const policy = { crossRegion: [{ from: 'us-east', to: ['eu-west'] }] };
    expect(priorities([OWN_ZONE, US, AP, SA], policy)).toEqual({ 'zone-a': 0, 'zone-c': 1, 'zone-d': 1, 'zone-e': 1 });
  });

  it('drops other regions when allowCrossRegion is false', () => {
    expect(priorities([OWN_ZONE, OWN_REGION, US, AP], { allowCrossRegion: false })).toEqual({ 'zone-a': 0, 'zone-b': 1 });
    expect(priorities([US], { allowCrossRegion: false })).toEqual({});
  });

  it('is contiguous from 0 for every combination of present levels', () => {
    const all = [OWN_ZONE, OWN_REGION, US, AP, SA];
    const policy = { crossRegion: [{ from: 'eu-west', to: ['us-east', 'ap-south', 'sa-east'] }] };
    for (let mask = 1; mask < 1 << all.length; mask++) {
      const present = all.filter((_, i) => mask & (1 << i));
      const levels = [...new Set(localityPriorities(proxy, present, policy).values())].sort((a, b) => a - b);
      expect(levels).toEqual(levels.map((_, i) => i));
    }
  });

  it('keys localities by region, zone and subzone', () => {
    expect(localityKey(locality('r', 'z'))).toBe('r/z/');
    expect(localityKey(locality('r', 'z', 's'))).toBe('r/z/s');
  });
});

describe('overprovisioningFactor', () => {
  it('maps the schema default 72 to Envoy\'s default 140 and other thresholds to 10000 / threshold', () => {
    expect(overprovisioningFactor()).toBe(140);
    expect(overprovisioningFactor(72)).toBe(140);
    expect(overprovisioningFactor(100)).toBe(100);
    expect(overprovisioningFactor(80)).toBe(125);
    expect(overprovisioningFactor(50)).toBe(200);
    expect(overprovisioningFactor(1)).toBe(10000);
  });
});
