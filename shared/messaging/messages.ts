import { z } from 'zod';
import { ID_PATTERN } from '../domain/types';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ - starting with a letter or digit');

/**
 * Waiting is not failing: a job that waits for a busy integration or a rate
 * limit counts deferrals, separately from failures, and is bounded by time.
 */
const deferralFields = {
  deferrals: z.number().int().min(0).max(1_000_000).optional(),
  /** When the first deferral of this job happened. */
  deferredSince: z.iso.datetime().optional(),
};

/** Body of a `sync-inbound` message: run one pull sync for one integration. */
export const syncJobSchema = z.object({
  type: z.literal('sync.pull'),
  tenantId: id,
  integrationId: id,
  trigger: z.enum(['schedule', 'webhook', 'manual', 'push']),
  /** Set when an admin queued the run (it already exists, status `queued`). */
  runId: z.string().min(1).max(100).optional(),
  requestedAt: z.iso.datetime(),
  /** Resync from scratch: ignore the cursor (records are kept; unchanged ones are not rewritten). */
  full: z.boolean().optional(),
  /** Failures so far (transient errors, dependencies down): drives the 30 s / 2 min / 10 min backoff, then the job is parked. */
  attempt: z.number().int().min(0).max(1000).optional(),
  ...deferralFields,
  /** Invocations this run has continued in after its time budget (neither a failure nor a wait). */
  continuations: z.number().int().min(0).max(1_000_000).optional(),
});
export type SyncJob = z.infer<typeof syncJobSchema>;

const normalizedRecordSchema = z.object({
  externalId: z.string().min(1).max(512),
  entityType: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  updatedAt: z.string().min(1).max(64),
  deleted: z.boolean(),
  data: z.record(z.string(), z.unknown()),
});

/** Body of a `sync-inbound` message: apply the records a webhook delivery carried (edits and deletes a pull cannot see). */
export const applyRecordsJobSchema = z.object({
  type: z.literal('sync.apply'),
  tenantId: id,
  integrationId: id,
  deliveryId: z.string().min(1).max(200),
  records: z.array(normalizedRecordSchema).min(1).max(100),
  requestedAt: z.iso.datetime(),
  /** The run this job applies as; set on its first follow-up so retries and waits keep one run. */
  runId: z.string().min(1).max(100).optional(),
  /** Failures so far (as for sync.pull). */
  attempt: z.number().int().min(0).max(1000).optional(),
  ...deferralFields,
});

/** Everything the inbound worker accepts. */
export const inboundJobSchema = z.discriminatedUnion('type', [syncJobSchema, applyRecordsJobSchema]);
export type ApplyRecordsJob = z.infer<typeof applyRecordsJobSchema>;

/** Body of a `sync-outbound` message: push one local change to the provider. */
export const outboundJobSchema = z.object({
  tenantId: id,
  integrationId: id,
  op: z.enum(['create', 'update', 'delete']),
  entityType: z.string().min(1).max(64),
  recordId: z.string().min(1).max(255),
  payload: z.record(z.string(), z.unknown()),
  idempotencyKey: z.string().min(1).max(200),
  /** Failures so far (transient errors): drives the 30 s / 2 min / 10 min backoff, then the push is parked. */
  attempt: z.number().int().min(0).max(100).optional(),
  /** Waits (a rate limit, a pull the push asked for): counted apart from failures and bounded by time, not by count. */
  ...deferralFields,
  /** Waits counted by an earlier version (before `deferrals`); read only to know the message is a follow-up. */
  waits: z.number().int().min(0).max(100).optional(),
});
export type OutboundJob = z.infer<typeof outboundJobSchema>;

/** zod issues as one line: paths and messages, never the offending values. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 10)
    .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}
