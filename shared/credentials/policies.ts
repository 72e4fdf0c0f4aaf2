/**
 * Rotation policies per credential kind. OAuth tokens rotate themselves
 * (refresh); long-lived secrets an admin pastes in get a maximum age with an
 * alert before it is reached. A credential may override its kind's maximum
 * age (`maxAgeDays` on the admin write).
 */
import type { CredentialKind } from './envelope';

export type PolicyKind = CredentialKind | 'legacy' | 'oauth-client';

export interface RotationPolicy {
  /** Maximum age in days; undefined → no maximum. */
  maxAgeDays?: number;
  /** Days before the maximum age when the alert goes out. */
  alertBeforeDays: number;
}

const DAY_MS = 24 * 60 * 60_000;

export const ROTATION_POLICIES: Record<PolicyKind, RotationPolicy> = {
  // Refreshed automatically; a refresh token dies with use or revocation, not with age.
  oauth: { alertBeforeDays: 14 },
  legacy: { alertBeforeDays: 14 },
  // 90 days: Google's guidance for keys that grant API access
  // (https://cloud.google.com/iam/docs/best-practices-for-managing-service-account-keys,
  // "rotate ... keys at least every 90 days"); we hold API keys to the same bar.
  'api-key': { maxAgeDays: 90, alertBeforeDays: 14 },
  'service-account': { maxAgeDays: 90, alertBeforeDays: 14 },
  // 180 days: the lifetime Microsoft Entra recommends for client secrets
  // (https://learn.microsoft.com/entra/identity-platform/how-to-add-credentials#add-a-client-secret).
  'oauth-client': { maxAgeDays: 180, alertBeforeDays: 14 },
  // Slack bot tokens and Notion internal tokens do not expire; no maximum unless the admin sets one.
  'bot-token': { alertBeforeDays: 14 },
  'internal-token': { alertBeforeDays: 14 },
};

/** Credentials with a stated end of life are reported this long before it. */
export const NEAR_EXPIRY_MS = 7 * DAY_MS;

/** Webhook secret rotation: how long the previous secret keeps verifying by default, and at most. */
export const DEFAULT_WEBHOOK_OVERLAP_HOURS = 24;
export const MAX_WEBHOOK_OVERLAP_HOURS = 30 * 24;

export type RotationState = 'none' | 'ok' | 'due' | 'overdue';

export interface RotationStatus {
  state: RotationState;
  maxAgeDays?: number;
  /** When the credential reaches its maximum age (ISO). */
  rotateBy?: string;
}

export function rotationStatus(kind: PolicyKind, createdAt: string | undefined, overrideDays: number | undefined, now: Date): RotationStatus {
  const policy = ROTATION_POLICIES[kind];
  const maxAgeDays = overrideDays ?? policy.maxAgeDays;
  const created = createdAt === undefined ? Number.NaN : Date.parse(createdAt);
  if (maxAgeDays === undefined || !Number.isFinite(created)) return { state: 'none' };
  const rotateBy = created + maxAgeDays * DAY_MS;
  const t = now.getTime();
  const state: RotationState = t >= rotateBy ? 'overdue' : t >= rotateBy - policy.alertBeforeDays * DAY_MS ? 'due' : 'ok';
  return { state, maxAgeDays, rotateBy: new Date(rotateBy).toISOString() };
}

export type ExpiryState = 'none' | 'ok' | 'near' | 'expired';

export function expiryState(expiresAt: number | undefined, now: Date): ExpiryState {
  if (expiresAt === undefined) return 'none';
  const left = expiresAt - now.getTime();
  return left <= 0 ? 'expired' : left <= NEAR_EXPIRY_MS ? 'near' : 'ok';
}
