import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { InputError } from '../errors';
import type { OutboundJob } from '../messaging/messages';
import { canPush, providerPatch } from '../sync/push-support';
import type { AdminDeps } from './deps';
import { adminRoute, ok, readJson } from './http';
import { idSchema, routeId } from './ids';
import { queuePush } from './local-changes';

const createBody = z.strictObject({
  integrationId: idSchema,
  entityType: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ . -'),
  data: z.record(z.string(), z.unknown()).refine((d) => Object.keys(d).length > 0, 'give at least one field'),
});

/** A caller's `Idempotency-Key`: printable, short, no separators that could reach a URL or a message id unescaped. */
const CLIENT_KEY = /^[A-Za-z0-9_.:-]{1,100}$/;

/**
 * Create a record at the provider: `{integrationId, entityType, data}` → 202
 * once the create is queued to `sync-outbound`. The record appears (under the
 * id a pull computes from the provider's id) when the push lands.
 *
 * Exactly one provider object per create, under every redelivery: the push
 * carries an idempotency key that the outbound worker's done-ledger and the
 * provider's own mechanism recognise (GitHub: a hidden marker; Google: an
 * event id derived from it; Salesforce: an upsert on the External ID field;
 * Notion: `idempotencyProperty`). A caller retrying the POST itself (its
 * answer lost) sends the same `Idempotency-Key` header: the key, and so the
 * queued message and the provider object, are the same.
 */
export const createRecord = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const clientKey = request.header('idempotency-key');
  if (clientKey !== undefined && !CLIENT_KEY.test(clientKey)) throw new InputError(400, 'Idempotency-Key: must be 1-100 of A-Z a-z 0-9 _ . : -');
  const body = await readJson(request, createBody);
  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
  const integration = await deps.repos.getIntegration(tenantId, body.integrationId);
  if (!integration) throw new InputError(404, `Integration '${body.integrationId}' not found`);
  const provider = deps.providers.get(integration.provider);
  if (!provider || !canPush(provider, integration, body.entityType)) throw new InputError(400, `entityType: ${integration.provider} cannot create ${body.entityType}`);
  const checked = providerPatch(provider, integration, body.entityType, 'create', body.data);
  if (!checked.ok) throw new InputError(400, `data.${checked.reason}`);

  // Scoped to tenant and integration, so two tenants' equal header values never meet.
  const key = clientKey === undefined ? `create-${randomUUID()}` : `create-${createHash('sha256').update(`${tenantId}\n${integration.id}\n${clientKey}`).digest('hex').slice(0, 40)}`;
  const job: OutboundJob = { tenantId, integrationId: integration.id, op: 'create', entityType: body.entityType, recordId: key, payload: body.data, idempotencyKey: key };
  await queuePush(deps, job);
  return ok({ status: 'queued', idempotencyKey: key, integrationId: integration.id, entityType: body.entityType, data: body.data }, 202);
});
