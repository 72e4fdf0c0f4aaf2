/**
 * Push for GitHub issues: create, update, and "delete" (close).
 * https://docs.github.com/rest/issues/issues
 *
 * Ids. The pull's `externalId` is the issue `id` (a database id, stable when
 * an issue is renumbered by a transfer); the REST paths take the issue
 * `number`. So create returns `String(id)` (a pushed issue pulled back has
 * the same externalId), and update/delete find the number in the payload's
 * `number` (every pulled record has it in `data.number`), check with a GET
 * that this number is still the issue with that id, and only then write.
 * Without a `number` (an issue created by push and not pulled since) the id
 * is looked for among the most recently created issues.
 *
 * Delete. The REST API cannot delete an issue (only GraphQL `deleteIssue`,
 * which needs admin rights and cannot be undone), so delete closes it with
 * `state_reason: not_planned`. Pulls keep reporting it, as a closed issue
 * (`deleted: false`); closing an already closed, deleted (410) or
 * transferred (301) issue succeeds without a write.
 *
 * Idempotency. GitHub has no idempotency keys. A create appends
 * `<!-- castiel:idempotency=KEY -->` to the body (idempotency.ts) and, before
 * creating, looks for that marker among the repository's
 * RECENT_PAGES × 100 most recently created issues and pull requests; a match
 * is returned instead of a second issue. Limits:
 * - a retry that comes after more than 100 other issues were created in the
 *   repository creates a duplicate;
 * - two deliveries of the same create running at the same moment can both
 *   miss and both create: the outbound worker must not run one message twice
 *   concurrently (peek-lock does that);
 * - someone deleting the marker from the body between the attempt and the
 *   retry. Updates carry an existing marker over so ours do not remove it.
 * The scan costs one request per create, counted in the primary limit.
 *
 * Conditional writes. GitHub's REST API takes no If-Match on writes, so an
 * update or close with `seen` re-reads the issue first (the GET that checks
 * the number is that read) and refuses with PushConflictError when it changed
 * since: a later `updated_at`, or a field the patch writes holding another
 * value. What remains is the time between that GET and the PATCH (one round
 * trip). Only the patch's fields are written.
 */
import { UnrecoverableError } from '../../errors';
import { changedSince, PushConflictError } from '../push-conflict';
import type { PushOperation, PushResult, PushSeen, PushSupport } from '../types';
import { carryIdempotencyMarker, hasIdempotencyMarker, markerOverhead, withIdempotencyMarker } from './idempotency';
import { createIssue, findRecentIssue, getIssue, updateIssue, type GithubCallContext, type IssueWrite } from './issues';
import { toRecord } from './pull';
import {
  githubIssuePayloadSchema,
  MAX_ISSUE_BODY,
  type GithubConfig,
  type GithubCredentials,
  type GithubIssue,
  type GithubIssuePayload,
} from './schemas';

/** How many pages of 100 recent issues a create's marker search and an id lookup read. */
export const RECENT_PAGES = 1;
/** Issue ids are positive integers (the pull stores them as decimal strings). */
const EXTERNAL_ID = /^[1-9]\d{0,19}$/;

/** The issue fields push writes (`number` only finds the issue). */
const WRITABLE = new Set(['title', 'body', 'state', 'labels']);

export const githubPush: PushSupport<GithubConfig, GithubCredentials> = {
  entityTypes: ['issue'],
  writable: (entityType, field) => entityType === 'issue' && WRITABLE.has(field),
  conditional: true,
  async apply(ctx, operation) {
    if (operation.entityType !== 'issue') {
      throw new UnrecoverableError(`GitHub push supports the issue entity type only, not ${operation.entityType.slice(0, 64)}`);
    }
    const parsed = githubIssuePayloadSchema.safeParse(operation.payload);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new UnrecoverableError(`GitHub push: invalid issue payload (${first ? `${first.path.join('.')}: ${first.message}` : 'invalid'})`);
    }
    if (operation.op === 'create') return create(ctx, parsed.data, operation.idempotencyKey);
    const externalId = operation.externalId;
    if (externalId === undefined || !EXTERNAL_ID.test(externalId)) {
      throw new UnrecoverableError(`GitHub push: ${operation.op} needs the issue id as externalId`);
    }
    const number = parsed.data.number ?? seenNumber(operation.seen);
    return operation.op === 'update'
      ? update(ctx, externalId, number, parsed.data, operation)
      : close(ctx, externalId, number, operation.seen);
  },
};

/** A pulled record carries the issue number in its data: the patch need not repeat it. */
function seenNumber(seen: PushSeen | undefined): number | undefined {
  const n = seen?.data.number;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The re-read half of a conditional write: the issue as GitHub holds it now must be the version we saw. */
function checkUnchanged(current: GithubIssue, seen: PushSeen | undefined, patch: Record<string, unknown>): void {
  if (!seen) return;
  const remote = toRecord(current);
  const reason = changedSince(seen, remote, patch);
  if (reason !== undefined) throw new PushConflictError(`GitHub issue ${remote.externalId}: ${reason}`, remote);
}

async function create(ctx: GithubCallContext, payload: GithubIssuePayload, key: PushOperation['idempotencyKey']): Promise<PushResult> {
  if (payload.title === undefined) throw new UnrecoverableError('GitHub push: create needs a title');
  if ((payload.body?.length ?? 0) + markerOverhead(key) > MAX_ISSUE_BODY) {
    throw new UnrecoverableError(`GitHub push: body too long (GitHub allows ${MAX_ISSUE_BODY} characters, including our marker)`);
  }
  const previous = await findRecentIssue(ctx, (i) => !i.pull_request && hasIdempotencyMarker(i.body, key), RECENT_PAGES);
  const write: IssueWrite & { title: string } = { title: payload.title, body: withIdempotencyMarker(payload.body, key) };
  if (payload.labels !== undefined) write.labels = payload.labels;
  let issue = previous ?? (await createIssue(ctx, write));
  // `POST /issues` takes no state: a closed issue is created, then closed (also on a retry that found it open).
  if (payload.state === 'closed' && issue.state !== 'closed') {
    issue = await updateIssue(ctx, issue.number, { state: 'closed', state_reason: 'completed' });
  }
  return resultOf(issue);
}

async function update(ctx: GithubCallContext, externalId: string, number: number | undefined, payload: GithubIssuePayload, operation: PushOperation): Promise<PushResult> {
  const current = await resolve(ctx, externalId, number);
  if (current === 'gone') throw new UnrecoverableError(`GitHub push: issue ${externalId} was deleted or moved to another repository`);
  checkUnchanged(current, operation.seen, operation.payload);
  const write: IssueWrite = {};
  if (payload.title !== undefined) write.title = payload.title;
  if (payload.body !== undefined) {
    write.body = carryIdempotencyMarker(current.body ?? null, payload.body);
    if ((write.body?.length ?? 0) > MAX_ISSUE_BODY) throw new UnrecoverableError(`GitHub push: body too long (GitHub allows ${MAX_ISSUE_BODY} characters)`);
  }
  if (payload.labels !== undefined) write.labels = payload.labels;
  if (payload.state !== undefined && payload.state !== current.state) {
    write.state = payload.state;
    write.state_reason = payload.state === 'closed' ? 'completed' : 'reopened';
  }
  if (Object.keys(write).length === 0) {
    const ignored = Object.keys(operation.payload).filter((k) => k !== 'number' && !WRITABLE.has(k));
    // Never report a write that did not happen: a patch of fields GitHub cannot write is refused, not "pushed".
    if (ignored.length > 0) throw new UnrecoverableError(`GitHub push: nothing to write; ${ignored.slice(0, 5).join(', ')} cannot be written to an issue`);
    return { ...resultOf(current), unchanged: true };
  }
  return resultOf(await updateIssue(ctx, current.number, write));
}

async function close(ctx: GithubCallContext, externalId: string, number: number | undefined, seen: PushSeen | undefined): Promise<PushResult> {
  const current = await resolve(ctx, externalId, number);
  if (current === 'gone') return { externalId };
  checkUnchanged(current, seen, {});
  if (current.state === 'closed') return { ...resultOf(current), unchanged: true };
  return resultOf(await updateIssue(ctx, current.number, { state: 'closed', state_reason: 'not_planned' }));
}

/** The issue with id `externalId`, by its number when given (checked), else by a scan of recent issues. */
async function resolve(ctx: GithubCallContext, externalId: string, number: number | undefined): Promise<GithubIssue | 'gone'> {
  let issue: GithubIssue | 'gone' | undefined;
  if (number === undefined) {
    issue = await findRecentIssue(ctx, (i) => String(i.id) === externalId, RECENT_PAGES);
    if (!issue) {
      throw new UnrecoverableError(
        `GitHub push: no issue number in the payload, and issue ${externalId} is not among the ${RECENT_PAGES * 100} most recently created`,
      );
    }
  } else {
    issue = await getIssue(ctx, number);
    if (issue !== 'gone' && String(issue.id) !== externalId) {
      // Never write to an issue other than the one the record names (a stale or edited `number`).
      throw new UnrecoverableError(`GitHub push: issue #${number} is not issue ${externalId}`);
    }
  }
  if (issue !== 'gone' && issue.pull_request) throw new UnrecoverableError(`GitHub push: ${externalId} is a pull request, not an issue`);
  return issue;
}

/** GitHub's version of an issue is its `updated_at` (REST writes take no ETag): stored as the record's pushedVersion. */
function resultOf(issue: GithubIssue): PushResult {
  return { externalId: String(issue.id), version: issue.updated_at, updatedAt: issue.updated_at, record: toRecord(issue) };
}
