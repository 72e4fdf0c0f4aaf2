import { randomUUID } from 'node:crypto';
import { runIdForMessage } from '../domain/ids';
import type { Integration } from '../domain/types';
import { AuthError, describeError, isSyncError, RateLimitedError, RetryableError, UnrecoverableError } from '../errors';
import { QUEUES } from '../messaging/names';
import type { SyncJob } from '../messaging/messages';
import type { ProviderDefinition } from '../providers/types';
import type { Stored } from '../storage/port';
import { limitedFetch, signalRecorder } from '../ratelimit/admit';
import { acquireLease, releaseLease } from '../kv/lease';
import { saveCursor, syncBasis } from './checkpoint';
import { deferralDelay, followUpId, MAX_DEFERRAL_MS, nextDeferral } from './followup';
import { backoffDelay } from './backoff';
import { readAhead } from './concurrency';
import { parkMessage } from './deadletters';
import type { MessageInfo, SyncDeps } from './deps';
import { applyStagedChunks, dropStagedChunks, stageDeletes } from './deletions';
import { processPage } from './page';
import { RunTracker } from './runs';

/** The credential version a run used, so an auth failure can tell a stale read from a revoked grant. */
interface UsedCredentials {
  version?: string;
}

export type SyncOutcome =
  | { kind: 'succeeded'; runId: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'rescheduled'; runId: string; at: string; reason: string }
  | { kind: 'continued'; runId: string }
  | { kind: 'cancelled'; runId: string }
  | { kind: 'failed'; runId: string; reason: string };

/**
 * One run per integration at a time. The lease is short and renewed after
 * every page, so a crashed worker blocks the integration for at most this
 * long; a page must be processed within it.
 */
export const SYNC_LOCK_TTL_MS = 2 * 60 * 1000;
/** How long a job first waits when another run holds the integration; later waits double up to MAX_BUSY_WAIT_MS. */
export const BUSY_RETRY_MS = 30_000;
export const MAX_BUSY_WAIT_MS = 5 * 60_000;

export const lockKey = (integrationId: string): string => `lock:sync:{${integrationId}}`;

/** An admin's request to stop a run; workers look for it before starting and at every page boundary. */
export const cancelKey = (integrationId: string, runId: string): string => `cancel:{${integrationId}}:${runId}`;
export const CANCEL_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * Runs one pull sync through its ten phases and settles every failure itself:
 * rate limits and transient errors reschedule the run (it resumes from its
 * last checkpoint), auth failures mark the integration needs_reauth, and
 * permanent failures fail the run. Only a failure to record any of that
 * (the store itself down) throws, leaving the message to the host's redelivery.
 */
export async function runPullSync(deps: SyncDeps, job: SyncJob, message: MessageInfo): Promise<SyncOutcome> {
  const integration = await deps.repos.getIntegration(job.tenantId, job.integrationId);
  if (!integration) return { kind: 'skipped', reason: 'integration not found' };
  const provider = deps.providers.get(integration.provider);
  if (!provider) return { kind: 'skipped', reason: `provider '${integration.provider}' is not registered` };
  if (integration.status !== 'active') return { kind: 'skipped', reason: `integration is ${integration.status}` };

  const runId = job.runId ?? runIdForMessage(message.messageId);
  const ids = { tenantId: job.tenantId, integrationId: job.integrationId, runId };
  const run = await RunTracker.open(deps.repos, ids, job.trigger, deps.now(), job.full === true);
  if (run.finished) return { kind: 'skipped', reason: 'run already finished (redelivery)' };

  // The lease names this invocation, not the run: two copies of one message must not both run.
  const lease = { key: lockKey(integration.id), holder: `${runId}:${randomUUID()}` };
  const log = deps.logger.child({ tenantId: job.tenantId, integrationId: integration.id, runId });
  const used: UsedCredentials = {};
  let acquired = false;
  let outcome: SyncOutcome;
  try {
    // Inside the try: a Redis failure here takes the same backoff as any other dependency failure.
    acquired = await acquireLease(deps.kv, lease, SYNC_LOCK_TTL_MS);
    if (!acquired) return await defer(deps, { ...job, runId }, run, BUSY_RETRY_MS, 'another run holds this integration');
    await run.start(deps.now());
    const finished = await pullPages(deps, integration, provider, run, lease, used);
    if (finished === 'cancelled') {
      log.info('sync cancelled', { counts: run.counts });
      outcome = { kind: 'cancelled', runId };
    } else if (!finished) {
      await continueLater(deps, job, run);
      log.info('sync continues in a new invocation (time budget reached)', { counts: run.counts });
      return { kind: 'continued', runId };
    } else {
      log.info('sync succeeded', { counts: run.counts });
      outcome = { kind: 'succeeded', runId };
    }
  } catch (error) {
    outcome = await settleFailure(deps, job, message, integration, run, error, used);
  } finally {
    if (acquired) await releaseLease(deps.kv, lease, SYNC_LOCK_TTL_MS, (e: unknown) => { log.warn('lock release failed; retrying in the background', { error: e }); });
  }
  const ended = outcome.kind === 'succeeded' || outcome.kind === 'failed' || outcome.kind === 'cancelled';
  if (ended && run.deleteChunks > 0) {
    // Housekeeping only: a chunk left behind is never read again (a finished run is not resumed).
    await dropStagedChunks(deps.repos, job.tenantId, runId, run.deleteChunks).catch((error: unknown) => { log.warn('staged deletion chunks not removed', { error }); });
  }
  return outcome;
}

/**
 * Pages until done (true), the time budget is spent at a page boundary
 * (false), or an admin cancels. Deletions are staged durably and applied only
 * once the listing is read to its end; until then the integration's cursor
 * stays before the first of them (sync/deletions.ts explains both).
 */
async function pullPages(
  deps: SyncDeps,
  start: Stored<Integration>,
  provider: ProviderDefinition,
  run: RunTracker,
  lease: { key: string; holder: string },
  used: UsedCredentials,
): Promise<boolean | 'cancelled'> {
  const began = Date.now();
  const cancelled = async (): Promise<boolean> => (await deps.kv.get(cancelKey(start.id, run.id))) !== undefined;
  if (await cancelled()) {
    await run.cancel(deps.now());
    return 'cancelled';
  }
  const basis = syncBasis(start);
  // A checkpoint taken before an admin changed the provider settings points into other data: start again from the integration's cursor.
  const resume = run.checkpoint?.basis === basis ? run.checkpoint : undefined;
  const renewLease = async (): Promise<void> => {
    if (!(await deps.kv.expireIfEquals(lease.key, lease.holder, SYNC_LOCK_TTL_MS))) {
      // The lease lapsed and may be someone else's now: stop here; the checkpoint is safe.
      throw new RetryableError('sync lease lost');
    }
  };
  let integration = start;
  if (resume?.done !== true) {
    await run.enter('authorizing', deps.now());
    // Refreshed first when the access token is about to expire (single flight across instances).
    const access = await deps.credentials.getAccessCredentials(start);
    used.version = access.version;
    const credentials = provider.credentialsSchema.safeParse(access.credentials);
    if (!credentials.success) throw new AuthError('Stored credentials are missing or invalid');
    const config = provider.configSchema.safeParse(start.config);
    if (!config.success) throw new UnrecoverableError('Integration config is invalid');

    await run.enter('fetching', deps.now());
    // Every page request is admitted by the limiter first; a refusal reschedules the run (a fetch is safe to delay).
    const scope = { tenantId: integration.tenantId, integrationId: integration.id, provider: integration.provider };
    const pages = provider.pull({
      baseUrl: integration.baseUrl,
      config: config.data,
      credentials: credentials.data,
      // The run's own checkpoint first; a full resync ignores the integration's cursor (records are kept; unchanged ones are not rewritten).
      cursor: resume?.cursor ?? (run.full ? undefined : integration.cursor),
      // A wait of up to 2 s is absorbed in process: cheaper than a round trip through the queue.
      fetch: limitedFetch(deps.fetch, deps.limiter, scope, 'fetch', { maxWaitMs: 2_000 }),
      onRateLimit: signalRecorder(deps.limiter, scope, (error) => { deps.logger.warn('rate-limit signal not recorded', { error }); }),
    });
    // The next page downloads while this one is processed; nothing moves until a page is stored.
    for await (const page of readAhead(pages)) {
      const staged = await processPage(deps.repos, integration, page.records, run, deps.now);
      // Chunks first, then the run (checkpoint, counts and chunk count in one write), then the integration's cursor.
      const chunks = await stageDeletes(deps.repos, { tenantId: integration.tenantId, runId: run.id }, run.deleteChunks, staged);
      run.advance({ cursor: page.cursor, basis, done: page.done }, chunks);
      await run.flush(true);
      // While this run holds no unapplied deletion, the next run may start after this page (so a failure here costs no re-reading).
      if (!run.holdsDeletes && !page.done) integration = await saveCursor(deps.repos, integration, page.cursor, undefined);
      await renewLease();
      if (page.done) break;
      if (await cancelled()) {
        await run.cancel(deps.now());
        return 'cancelled';
      }
      await run.enter('fetching', deps.now());
      if (Date.now() - began >= deps.timeBudgetMs) return false;
    }
  }
  await run.enter('completing', deps.now());
  const applied = await applyStagedChunks(deps.repos, integration, run, deps.now, async () => {
    await renewLease();
    return Date.now() - began < deps.timeBudgetMs;
  });
  if (!applied) return false;
  // Every deletion this run saw is applied: now the next run may start after its last page.
  // lastSyncAt is when this run *began* looking at the provider: a push waits for a pull begun after its local change.
  const cursor = run.checkpoint?.basis === basis ? run.checkpoint.cursor : (integration.cursor ?? {});
  await saveCursor(deps.repos, integration, cursor, run.startedAt === undefined ? deps.now() : new Date(run.startedAt));
  await run.succeed(deps.now());
  return true;
}

async function settleFailure(
  deps: SyncDeps,
  job: SyncJob,
  message: MessageInfo,
  integration: Stored<Integration>,
  run: RunTracker,
  error: unknown,
  used: UsedCredentials,
): Promise<SyncOutcome> {
  const reason = describeError(error);
  const log = deps.logger.child({ tenantId: job.tenantId, integrationId: integration.id, runId: run.id });
  // Waiting for a rate limit is not a failure: it is a deferral, bounded by time.
  if (error instanceof RateLimitedError) return defer(deps, { ...job, runId: run.id }, run, error.retryAfterMs, reason, true);
  if (error instanceof AuthError) {
    // Another instance may have refreshed, or one refresh may fix it: then retry at once from the checkpoint.
    const outcome = used.version === undefined ? 'reauth_required' : await deps.credentials.onAuthFailure(integration, { version: used.version });
    if (outcome !== 'reauth_required' && (job.attempt ?? 0) < 3) return reschedule(deps, { ...job, runId: run.id }, run, 0, `credentials ${outcome}; retrying`);
    await deps.credentials.markNeedsReauth(integration, 'reauth_required', reason, `reauth:${integration.tenantId}:${integration.id}:${used.version ?? 'unreadable'}`);
    await run.fail(deps.now(), reason);
    log.warn('sync needs re-authorisation', { reason });
    return { kind: 'failed', runId: run.id, reason };
  }
  if (error instanceof UnrecoverableError || (isSyncError(error) && error.kind === 'input')) {
    await run.fail(deps.now(), reason);
    log.error('sync failed', { reason });
    return { kind: 'failed', runId: run.id, reason };
  }
  // Transient (or unexpected): back off with a scheduled message instead of the host's
  // immediate redelivery; the retry resumes from the last checkpoint.
  const delay = backoffDelay((job.attempt ?? 0) + 1);
  if (delay === undefined) {
    await run.fail(deps.now(), `gave up after ${job.attempt ?? 0} retries: ${reason}`);
    await parkMessage(deps.repos, QUEUES.syncInbound, message.messageId, job, job.tenantId, 'RetriesExhausted', `after ${job.attempt ?? 0} retries: ${reason}`, deps.now());
    log.error('sync failed after retries; message parked', { reason });
    return { kind: 'failed', runId: run.id, reason };
  }
  log.warn('sync attempt failed; retrying with backoff', { reason, attempt: (job.attempt ?? 0) + 1 });
  return reschedule(deps, { ...job, runId: run.id }, run, delay, reason);
}

async function reschedule(deps: SyncDeps, job: SyncJob, run: RunTracker, delayMs: number, reason: string): Promise<SyncOutcome> {
  const at = new Date(deps.now().getTime() + delayMs);
  const attempt = (job.attempt ?? 0) + 1;
  await sendInbound(deps, followUpId(run.id, 'retry', attempt), { ...job, runId: run.id, attempt }, at);
  await run.requeue(`rescheduled for ${at.toISOString()}: ${reason}`, at);
  return { kind: 'rescheduled', runId: run.id, at: at.toISOString(), reason };
}

/**
 * Wait (another run holds the integration, or a rate limit): a deferral, not a
 * failure. Busy waits back off (30 s doubling to 5 min); a rate limit waits
 * exactly its retry-after. After MAX_DEFERRAL_MS of waiting the run fails and
 * the job is parked with its own reason.
 */
async function defer(deps: SyncDeps, job: SyncJob, run: RunTracker, delayMs: number, reason: string, exact = false): Promise<SyncOutcome> {
  const now = deps.now();
  const next = nextDeferral(job, now);
  if (!next) {
    const why = `waited more than ${MAX_DEFERRAL_MS / 3_600_000} h: ${reason}`;
    await parkMessage(deps.repos, QUEUES.syncInbound, followUpId(run.id, 'defer', (job.deferrals ?? 0) + 1), job, job.tenantId, 'DeferredTooLong', why, now);
    await run.fail(now, why);
    return { kind: 'failed', runId: run.id, reason: why };
  }
  const at = new Date(now.getTime() + (exact ? delayMs : deferralDelay(next.deferrals, delayMs, MAX_BUSY_WAIT_MS)));
  await sendInbound(deps, followUpId(run.id, 'defer', next.deferrals), next, at);
  await run.requeue(`waiting until ${at.toISOString()}: ${reason}`, at);
  return { kind: 'rescheduled', runId: run.id, at: at.toISOString(), reason };
}

async function sendInbound(deps: SyncDeps, messageId: string, body: SyncJob, at?: Date): Promise<void> {
  await deps.queue.send(QUEUES.syncInbound, {
    messageId,
    body,
    ...(at ? { scheduledEnqueueTime: at } : {}),
    applicationProperties: { trigger: body.trigger, tenantId: body.tenantId },
  });
}

/** Functions have time limits: a long run stops at a page boundary and queues its own continuation. */
async function continueLater(deps: SyncDeps, job: SyncJob, run: RunTracker): Promise<void> {
  const continuations = (job.continuations ?? 0) + 1;
  await sendInbound(deps, followUpId(run.id, 'cont', continuations), { ...job, runId: run.id, continuations });
  await run.requeue('continued in a new invocation (time budget reached)');
}
