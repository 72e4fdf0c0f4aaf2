/**
 * Notifications port: events an operator must act on (an integration needs
 * re-authorisation, a credential nears its expiry or maximum age). Channels
 * (Slack, Teams, e-mail digests) implement `NotificationSink`; the core only
 * emits events. Events carry ids and reasons, never a secret value.
 */
export type NotificationKind =
  /** The provider refused the credentials (invalid_grant, revoked): an admin must reconnect. */
  | 'reauth_required'
  /** Token refresh has failed on several separate days; the integration was marked needs_reauth. */
  | 'refresh_failing'
  /** A credential without automatic refresh expires soon. */
  | 'credential_expiring'
  /** A credential approaches the maximum age its rotation policy allows. */
  | 'rotation_due'
  /** A credential is past the maximum age its rotation policy allows. */
  | 'rotation_overdue'
  /** An integration was connected (OAuth) or its credentials were replaced. */
  | 'connected'
  /** A webhook secret was rotated; the previous one verifies until the overlap ends. */
  | 'webhook_secret_rotated';

export type NotificationSeverity = 'info' | 'warning' | 'critical';

export interface NotificationEvent {
  kind: NotificationKind;
  severity: NotificationSeverity;
  tenantId: string;
  integrationId: string;
  provider: string;
  /** One line for a channel message. */
  title: string;
  /** What happened and what to do; no secret values. */
  detail: string;
  occurredAt: string;
  /** Same key → same event: channels may drop repeats (e.g. one per credential version or per day). */
  dedupeKey: string;
}

export interface NotificationSink {
  notify(event: NotificationEvent): Promise<void>;
}
