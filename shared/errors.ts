/**
 * Typed errors. Each one says what happens next, so workers map them to a
 * settlement without string matching:
 * - RetryableError: throw → the message is redelivered (or rescheduled with backoff).
 * - RateLimitedError: reschedule at `retryAfterMs`.
 * - AuthError: mark the integration `needs_reauth`, notify, stop retrying.
 * - UnrecoverableError: dead-letter / fail the run with a reason; never retried.
 * - InputError: bad input from a caller; becomes a 4xx with `reason`.
 */
export abstract class SyncError extends Error {
  abstract readonly kind: 'retryable' | 'rate_limited' | 'auth' | 'unrecoverable' | 'input';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class RetryableError extends SyncError {
  readonly kind = 'retryable' as const;
}

export class RateLimitedError extends SyncError {
  readonly kind = 'rate_limited' as const;
  constructor(message: string, readonly retryAfterMs: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class AuthError extends SyncError {
  readonly kind = 'auth' as const;
}

export class UnrecoverableError extends SyncError {
  readonly kind = 'unrecoverable' as const;
}

/** Bad caller input: `status` is the HTTP status to answer with (4xx). */
export class InputError extends SyncError {
  readonly kind = 'input' as const;
  constructor(readonly status: 400 | 401 | 403 | 404 | 409 | 412 | 413 | 415 | 422, message: string) {
    super(message);
  }
}

export function isSyncError(e: unknown): e is SyncError {
  return e instanceof SyncError;
}

/** A message safe to show: never the cause chain (which may hold provider bodies). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return 'Unknown error';
}
