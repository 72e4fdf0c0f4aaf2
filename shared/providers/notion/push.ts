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
 * The payload is `{properties}` in Notion's request format (what a mapping
 * produces), e.g. `{"Name": {"title": [{"text": {"content": "Hi"}}]}}`.
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
import type { PushOperation, PushResult, PushSupport } from '../types';
import { NotionRequestError, notionRequest, summariseIssues, type NotionCall } from './api';
import { NOTION_ENTITY_TYPE } from './normalize';
import { queryPath } from './pull';
import { NOTION_ID, notionListSchema, notionPageSchema, type NotionConfig, type NotionCredentials, type NotionPage } from './schemas';

/** Rich text content is capped at 2,000 characters (https://developers.notion.com/reference/request-limits). */
const MAX_KEY_CHARS = 2000;

const pushPayloadSchema = z.object({
  properties: z.record(z.string().min(1).max(200), z.record(z.string(), z.unknown())).optional(),
});
type PushPayload = z.infer<typeof pushPayloadSchema>;

type Ctx = NotionCall & { config: NotionConfig };

export const notionPush: PushSupport<NotionConfig, NotionCredentials> = {
  entityTypes: [NOTION_ENTITY_TYPE],
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
    return operation.op === 'update' ? update(call, pageId, parsed.data) : trash(call, pageId);
  },
};

async function create(ctx: Ctx, payload: PushPayload, key: PushOperation['idempotencyKey']): Promise<PushResult> {
  const properties: Record<string, unknown> = { ...payload.properties };
  const keyProperty = ctx.config.idempotencyProperty;
  if (keyProperty !== undefined) {
    if (key.length > MAX_KEY_CHARS) throw new UnrecoverableError(`Notion push: idempotency key longer than ${MAX_KEY_CHARS} characters`);
    const previous = await findByKey(ctx, keyProperty, key);
    if (previous) return resultOf(previous);
    properties[keyProperty] = { rich_text: [{ type: 'text', text: { content: key } }] };
  }
  const body = { parent: { type: 'data_source_id', data_source_id: ctx.config.dataSourceId }, properties };
  return resultOf(parsePage(await notionRequest(ctx, 'POST', 'pages', 'Notion create page', body), 'Notion create page'));
}

async function update(ctx: Ctx, pageId: string, payload: PushPayload): Promise<PushResult> {
  if (payload.properties === undefined || Object.keys(payload.properties).length === 0) {
    throw new UnrecoverableError('Notion push: update needs at least one property');
  }
  const page = await notionRequest(ctx, 'PATCH', pagePath(pageId), 'Notion update page', { properties: payload.properties });
  return resultOf(parsePage(page, 'Notion update page'));
}

async function trash(ctx: Ctx, pageId: string): Promise<PushResult> {
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
  return { externalId: page.id, updatedAt: page.last_edited_time };
}
