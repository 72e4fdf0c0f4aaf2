import { z } from 'zod';
import { ID_PATTERN } from '../domain/types';

const id = z.string().regex(ID_PATTERN, 'must be 1-64 of A-Z a-z 0-9 _ - starting with a letter or digit');

/** Body of a `sync-inbound` message: run one pull sync for one integration. */
export const syncJobSchema = z.object({
  type: z.literal('sync.pull'),
  tenantId: id,
  integrationId: id,
  trigger: z.enum(['schedule', 'webhook', 'manual']),
  /** Set when an admin queued the run (it already exists, status `queued`). */
  runId: z.string().min(1).max(100).optional(),
  requestedAt: z.iso.datetime(),
  /** Resync from scratch: ignore the cursor (records are kept; unchanged ones are not rewritten). */
  full: z.boolean().optional(),
  /** How many times this run was rescheduled (rate limit, busy integration): keeps message ids deterministic. */
  attempt: z.number().int().min(0).max(1000).optional(),
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
  /** Times it waited for another run to release the integration. */
  attempt: z.number().int().min(0).max(1000).optional(),
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
  /** Retries so far (transient failures back off by scheduling a new message). */
  attempt: z.number().int().min(0).max(100).optional(),
  /** Times this push waited for a pull to show the provider's state since the local change. */
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
