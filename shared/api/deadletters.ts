import { z } from 'zod';
import { InputError } from '../errors';
import { QUEUES, type QueueName } from '../messaging/names';
import type { DeadLetterDoc } from '../storage/repositories';
import type { AdminDeps } from './deps';
import { adminRoute, ok } from './http';
import { pageParams, routeId } from './ids';

function deadLetterView(d: DeadLetterDoc): Record<string, unknown> {
  return { id: d.id, queue: d.queue, messageId: d.messageId, reason: d.reason, description: d.description, body: d.body, parkedAt: d.parkedAt, requeuedAt: d.requeuedAt ?? null };
}

export const listDeadLetters = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const { limit, continuation } = pageParams(request.query);
  // An unknown tenant is a 404, as for records: an empty list would pass for "none yet".
  if (!(await deps.repos.getTenant(tenantId))) throw new InputError(404, `Tenant '${tenantId}' not found`);
  const page = await deps.repos.listDeadLetters(tenantId, limit, continuation);
  return ok({ items: page.items.map(deadLetterView), ...(page.continuation ? { continuation: page.continuation } : {}) });
});

const queues = new Set<string>(Object.values(QUEUES));

/** Send a parked message back to its queue (a fresh message id, retries from zero) and mark it requeued. */
export const requeueDeadLetter = adminRoute<AdminDeps>(async (deps, request) => {
  const tenantId = routeId(request.params, 'tenantId');
  const id = z.string().regex(/^dl-[a-f0-9]{32}$/).safeParse(request.params.deadLetterId);
  if (!id.success) throw new InputError(400, 'deadLetterId: not a dead-letter id');
  const doc = await deps.repos.getDeadLetter(tenantId, id.data);
  if (!doc) throw new InputError(404, 'Dead letter not found');
  if (doc.requeuedAt !== undefined) throw new InputError(409, 'Already requeued');
  if (!queues.has(doc.queue) || doc.body === null || typeof doc.body !== 'object' || Array.isArray(doc.body)) {
    throw new InputError(409, 'This message cannot be requeued (unknown queue or not a JSON object)');
  }
  const now = deps.now().toISOString();
  // A fresh start: no retries or waits used up, and a new run (the parked one has failed and stays as the record of it).
  const { attempt: _a, deferrals: _d, deferredSince: _s, continuations: _c, waits: _w, runId: _r, ...body } = doc.body as Record<string, unknown>;
  // The id does not grow with each requeue (Service Bus caps ids at 128 characters).
  const base = doc.messageId.replace(/:requeue:.*$/, '');
  await deps.queue.send(doc.queue as QueueName, { messageId: `${base}:requeue:${now}`, body, applicationProperties: { tenantId, requeued: true } });
  const { etag, ...rest } = doc;
  await deps.repos.parkDeadLetter({ ...rest, requeuedAt: now }, etag);
  return ok({ id: doc.id, requeuedAt: now }, 202);
});
