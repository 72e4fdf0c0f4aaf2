import { COOLDOWN_BASE_MS, COOLDOWN_MAX_MS, ESCALATE_AFTER_DAYS, RefreshFailures } from '../../shared/credentials/failures';
import { InMemoryKeyValueStore } from '../../shared/kv/memory';

const DAY = 24 * 60 * 60_000;
const start = Date.parse('2026-03-01T08:00:00Z');

describe('refresh failure record', () => {
  it('backs off exponentially up to the cap', async () => {
    const failures = new RefreshFailures(new InMemoryKeyValueStore({ now: () => start }));
    const waits: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await failures.record('cred-a', start);
      waits.push(r.nextAttemptAt - start);
    }
    expect(waits.slice(0, 4)).toEqual([COOLDOWN_BASE_MS, 2 * COOLDOWN_BASE_MS, 4 * COOLDOWN_BASE_MS, 8 * COOLDOWN_BASE_MS]);
    expect(waits.at(-1)).toBe(COOLDOWN_MAX_MS);
    expect(await failures.cooldownMs('cred-a', start + 1000)).toBe(COOLDOWN_MAX_MS - 1000);
  });

  it('escalates once, when failures happened on the 4th separate day, however many on one day', async () => {
    let now = start;
    const failures = new RefreshFailures(new InMemoryKeyValueStore({ now: () => now }));
    const escalations: boolean[] = [];
    for (let day = 0; day < 6; day++) {
      for (let k = 0; k < 5; k++) {
        now = start + day * DAY + k * 3_600_000;
        escalations.push((await failures.record('cred-b', now)).escalate);
      }
    }
    const firstEscalation = escalations.indexOf(true);
    expect(firstEscalation).toBe((ESCALATE_AFTER_DAYS - 1) * 5);
    expect(escalations.filter(Boolean)).toHaveLength(1);
  });

  it('forgets everything on success', async () => {
    const failures = new RefreshFailures(new InMemoryKeyValueStore({ now: () => start }));
    await failures.record('cred-c', start);
    await failures.clear('cred-c');
    expect(await failures.cooldownMs('cred-c', start)).toBe(0);
    expect((await failures.record('cred-c', start)).consecutive).toBe(1);
  });

  it('marks a refused version once and only that version', async () => {
    const failures = new RefreshFailures(new InMemoryKeyValueStore());
    expect(await failures.markRefused('cred-d', 'v1')).toBe(true);
    expect(await failures.markRefused('cred-d', 'v1')).toBe(false);
    expect(await failures.isRefused('cred-d', 'v1')).toBe(true);
    expect(await failures.isRefused('cred-d', 'v2')).toBe(false);
    expect(await failures.markRefused('cred-d', 'v2')).toBe(true);
  });
});
