import { expect, it } from 'vitest';
import { api, eventually, registerZone, startFederatedGlobalCp, startTestZoneCp, tempStateDir, zoneCpConfig } from '../helpers/federation.js';

it('a zone CP reports in as soon as it connects, not one heartbeat interval later', async () => {
  const globalCp = await startFederatedGlobalCp();
  const token = await registerZone(globalCp.url, 'zone-a', 'eu-west');
  const zone = await startTestZoneCp(zoneCpConfig(globalCp, 'zone-a', token, await tempStateDir(), { heartbeatIntervalMs: 30_000 }));
  try {
    const started = Date.now();
    await eventually(async () => expect((await api<{ status: { state: string } }>(globalCp.url, 'GET', '/zones/zone-a')).body.status.state).toBe('online'), 5000);
    expect(Date.now() - started).toBeLessThan(5000);
  } finally {
    await zone.stop();
    await globalCp.stop();
  }
}, 20_000);
