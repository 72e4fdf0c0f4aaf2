import { expiryState, NEAR_EXPIRY_MS, rotationStatus } from '../../shared/credentials/policies';

const DAY = 24 * 60 * 60_000;
const created = '2026-01-01T00:00:00.000Z';
const at = (days: number): Date => new Date(Date.parse(created) + days * DAY);

describe('rotation policies', () => {
  it('gives API keys 90 days, alerting 14 days before', () => {
    expect(rotationStatus('api-key', created, undefined, at(75.9)).state).toBe('ok');
    expect(rotationStatus('api-key', created, undefined, at(76)).state).toBe('due');
    expect(rotationStatus('api-key', created, undefined, at(89.9)).state).toBe('due');
    expect(rotationStatus('api-key', created, undefined, at(90))).toEqual({ state: 'overdue', maxAgeDays: 90, rotateBy: '2026-04-01T00:00:00.000Z' });
  });

  it('gives OAuth client secrets 180 days', () => {
    expect(rotationStatus('oauth-client', created, undefined, at(165.9)).state).toBe('ok');
    expect(rotationStatus('oauth-client', created, undefined, at(166)).state).toBe('due');
    expect(rotationStatus('oauth-client', created, undefined, at(180)).state).toBe('overdue');
  });

  it('lets a credential override its maximum age', () => {
    expect(rotationStatus('api-key', created, 30, at(15.9)).state).toBe('ok');
    expect(rotationStatus('api-key', created, 30, at(16)).state).toBe('due');
    expect(rotationStatus('api-key', created, 30, at(30)).state).toBe('overdue');
    expect(rotationStatus('bot-token', created, 365, at(366)).state).toBe('overdue');
  });

  it('has no maximum for refreshed OAuth tokens or kinds without a policy', () => {
    expect(rotationStatus('oauth', created, undefined, at(10_000))).toEqual({ state: 'none' });
    expect(rotationStatus('bot-token', created, undefined, at(10_000))).toEqual({ state: 'none' });
    expect(rotationStatus('api-key', undefined, undefined, at(10_000))).toEqual({ state: 'none' });
  });
});

describe('expiry reporting', () => {
  const now = new Date('2026-03-01T00:00:00Z');
  it('reports near expiry within 7 days and expired after', () => {
    expect(expiryState(undefined, now)).toBe('none');
    expect(expiryState(now.getTime() + NEAR_EXPIRY_MS + 1, now)).toBe('ok');
    expect(expiryState(now.getTime() + NEAR_EXPIRY_MS, now)).toBe('near');
    expect(expiryState(now.getTime(), now)).toBe('expired');
  });
});
