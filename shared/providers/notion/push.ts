/**
 * Push for pages of the configured data source.
 *
 * - create: `POST /v1/pages` with parent `{type: "data_source_id", data_source_id}`
 *   (https://developers.notion.com/reference/post-page);
 * - update: `PATCH /v1/pages/{id}` with `properties`
 *   (https://developers.notion.com/reference/patch-page);
 * - delete: the same PATCH with `in_trash: true` — Notion's delete is a move to
 *   the trash (https://developers.notion.com/reference/archive-a-page).
 *
 * The payload is in the pull's shape (normalize.ts): `{title?, properties?}`
 * with plain values (`{"properties": {"Status": "Done"}}`, or a title as its
 * text), or property values already in Notion's request format
 * (`{"Name": {"title": [...]}}`). Plain values are converted by the
 * property's type (write-values.ts), read from the page an update re-reads
 * or from the data source a create reads. Only the properties in the payload
 * are written.
 *
 * Conditional writes. Notion has no If-Match, so an update or trash with
 * `seen` re-reads the page and refuses with PushConflictError when it changed
 * since: a later `last_edited_time`, or a property the patch writes holding
 * another value than we saw. Notion rounds `last_edited_time` down to the
 * minute, so within a minute only the patched properties' values tell; what
 * remains is the time between the GET and the PATCH (one round trip).
 *
 * Idempotency. Notion has no idempotency keys. With `idempotencyProperty`
 * configured (a rich_text property), a create first queries the data source
 * for a page whose property equals the key and returns it; otherwise it
 * writes the key into that property. Without it, a retried create can make a
 * duplicate page. Updates set absolute values, so repeating one changes
 * nothing. A delete of a page already in the trash, or gone (404), succeeds
 * without a write.
 */
import { z } from 'zod';
import { UnrecoverableError } from '../../errors';
import { changedSince, PushConflictError } from '../push-conflict';
import type { PushOperation, PushResult, PushSeen, PushSupport } from '../types';
import { NotionRequestError, notionRequest, summariseIssues, type NotionCall } from './api';
import { NOTION_ENTITY_TYPE, pageToRecord } from './normalize';
import { queryPath } from './pull';
import { NOTION_ID, notionListSchema, notionPageSchema, type NotionConfig, type NotionCredentials, type NotionPage } from './schemas';
import { requestValue } from './write-values';

/** Rich text content is capped at 2,000 characters (https://developers.notion.com/reference/request-limits). */
const MAX_KEY_CHARS = 2000;

const pushPayloadSchema = z.object({
  /** The page's title as text (the pull's `title`): written to its title property. */
  title: z.string().nullable().optional(),
  properties: z.record(z.string().min(1).max(200), z.unknown()).optional(),
});
type PushPayload = z.infer<typeof pushPayloadSchema>;

/** A data source's property types (https://developers.notion.com/reference/data-source): what a create converts plain values by. */
const dataSourceSchema = z.object({ properties: z.record(z.string(), z.object({ type: z.string() }).loose()) }).loose();

const WRITABLE = new Set(['title', 'properties']);

type Ctx = NotionCall & { config: NotionConfig };

export const notionPush: PushSupport<NotionConfig, NotionCredentials> = {
  entityTypes: [NOTION_ENTITY_TYPE],
  writable: (entityType, field) => entityType === NOTION_ENTITY_TYPE && WRITABLE.has(field),
  conditional: true,
  async apply(ctx, operation) {
    if (operation.entityType !== NOTION_ENTITY_TYPE) {
      throw new UnrecoverableError(`Notion push supports the page entity type only, not ${operation.entityType.slice(0, 64)}`);
    }
    const parsed = pushPayloadSchema.safeParse(operation.payload);
    if (!parsed.success) throw new UnrecoverableError(`Notion push: invalid page payload (${summariseIssues(parsed.error.issues)})`);
    const call: Ctx = { ...ctx };
    if (operation.op === 'create') return create(call, parsed.data, operation.idempotencyKey);
    const pageId = operation.externalId;
    if (pageId === undefined || !NOTION_ID.test(pageId)) throw new UnrecoverableError(`Notion push: ${operation.op} needs the page id as externalId`);
    return operation.op === 'update' ? update(call, pageId, parsed.data, operation) : trash(call, pageId, operation.seen);
  },
};

async function create(ctx: Ctx, payload: PushPayload, key: PushOperation['idempotencyKey']): Promise<PushResult> {
  const keyProperty = ctx.config.idempotencyProperty;
  if (keyProperty !== undefined) {
    if (key.length > MAX_KEY_CHARS) throw new UnrecoverableError(`Notion push: idempotency key longer than ${MAX_KEY_CHARS} characters`);
    const previous = await findByKey(ctx, keyProperty, key);
    if (previous) return resultOf(previous);
  }
  const source = dataSourceSchema.safeParse(await notionRequest(ctx, 'GET', `data_sources/${encodeURIComponent(ctx.config.dataSourceId)}`, 'Notion retrieve data source'));
  if (!source.success) throw new UnrecoverableError(`Notion push: unexpected data source shape (${summariseIssues(source.error.issues)})`);
  const types = Object.fromEntries(Object.entries(source.data.properties).map(([name, p]) => [name, p.type]));
  const properties = requestProperties(types, payload);
  if (keyProperty !== undefined) properties[keyProperty] = { rich_text: [{ type: 'text', text: { content: key } }] };
  const body = { parent: { type: 'data_source_id', data_source_id: ctx.config.dataSourceId }, properties };
  return resultOf(parsePage(await notionRequest(ctx, 'POST', 'pages', 'Notion create page', body), 'Notion create page'));
}

async function update(ctx: Ctx, pageId: string, payload: PushPayload, operation: PushOperation): Promise<PushResult> {
  // The re-read: the property types to convert plain values by, and the version to check against what we saw.
  const page = parsePage(await notionRequest(ctx, 'GET', pagePath(pageId), 'Notion retrieve page'), 'Notion retrieve page');
  checkUnchanged(page, operation.seen, operation.payload);
  const types = Object.fromEntries(Object.entries(page.properties).map(([name, p]) => [name, p.type]));
  const properties = requestProperties(types, payload);
  if (Object.keys(properties).length === 0) throw new UnrecoverableError('Notion push: update needs at least one property');
  const updated = await notionRequest(ctx, 'PATCH', pagePath(pageId), 'Notion update page', { properties });
  return resultOf(parsePage(updated, 'Notion update page'));
}

/** The payload's title and properties in Notion's request format, by the types of the target's properties. */
function requestProperties(types: Record<string, string>, payload: PushPayload): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(payload.properties ?? {})) {
    const type = Object.hasOwn(types, name) ? types[name] : undefined;
    // A property the target does not have goes as it is: Notion's own validation error names it.
    out[name] = type === undefined ? value : requestValue(name, type, value);
  }
  if (payload.title !== undefined) {
    const titleName = Object.entries(types).find(([, type]) => type === 'title')?.[0];
    if (titleName === undefined) throw new UnrecoverableError('Notion push: the data source has no title property');
    out[titleName] ??= requestValue(titleName, 'title', payload.title);
  }
  return out;
}

/** The re-read half of a conditional write: the page as Notion holds it now must be the version we saw. */
function checkUnchanged(page: NotionPage, seen: PushSeen | undefined, patch: Record<string, unknown>): void {
  if (!seen) return;
  const remote = pageToRecord(page);
  const reason = changedSince(seen, remote, patch);
  if (reason !== undefined) throw new PushConflictError(`Notion page ${page.id}: ${reason}`, remote);
}

async function trash(ctx: Ctx, pageId: string, seen: PushSeen | undefined): Promise<PushResult> {
  if (seen) {
    let current: NotionPage;
    try {
      current = parsePage(await notionRequest(ctx, 'GET', pagePath(pageId), 'Notion retrieve page'), 'Notion retrieve page');
    } catch (error) {
      if (error instanceof NotionRequestError && error.status === 404) return { externalId: pageId };
      throw error;
    }
    if (current.in_trash === true || current.archived === true) return { ...resultOf(current), unchanged: true };
    checkUnchanged(current, seen, {});
  }
  try {
    return resultOf(parsePage(await notionRequest(ctx, 'PATCH', pagePath(pageId), 'Notion trash page', { in_trash: true }), 'Notion trash page'));
  } catch (error) {
    if (!(error instanceof NotionRequestError)) throw error;
    // The write was refused: find out whether the page is already where a delete would put it.
    if (error.status === 404) return { externalId: pageId };
    let current: NotionPage;
    try {
      current = parsePage(await notionRequest(ctx, 'GET', pagePath(pageId), 'Notion retrieve page'), 'Notion retrieve page');
    } catch (lookup) {
      if (lookup instanceof NotionRequestError && lookup.status === 404) return { externalId: pageId };
      throw error;
    }
    if (current.in_trash === true || current.archived === true) return resultOf(current);
    throw error;
  }
}

/** A live page of the data source whose key property equals `key`. */
async function findByKey(ctx: Ctx, property: string, key: string): Promise<NotionPage | undefined> {
  const body = { filter: { property, rich_text: { equals: key } }, page_size: 1 };
  const list = notionListSchema.safeParse(await notionRequest(ctx, 'POST', queryPath(ctx.config), 'Notion find page by idempotency key', body));
  if (!list.success) throw new UnrecoverableError(`Notion push: unexpected query response (${summariseIssues(list.error.issues)})`);
  const first = list.data.results.find((r) => r.object === 'page');
  return first === undefined ? undefined : parsePage(first, 'Notion find page by idempotency key');
}

function pagePath(pageId: string): string {
  return `pages/${encodeURIComponent(pageId)}`;
}

function parsePage(body: unknown, operation: string): NotionPage {
  const page = notionPageSchema.safeParse(body);
  if (!page.success) throw new UnrecoverableError(`${operation}: unexpected page shape (${summariseIssues(page.error.issues)})`);
  return page.data;
}

function resultOf(page: NotionPage): PushResult {
  return { externalId: page.id, version: page.last_edited_time, updatedAt: page.last_edited_time, record: pageToRecord(page) };
}
