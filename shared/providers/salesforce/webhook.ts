/**
 * Inbound Salesforce deliveries on one URL, told apart by content type
 * (Salesforce itself signs nothing):
 *
 * - `text/xml`: an Outbound Message. Authenticated by its OrganizationId
 *   matching `config.organizationId` (constant time); each Notification is
 *   one event, deduped on its Id; answered with the SOAP `<Ack>true</Ack>`.
 * - `application/json`: a callout from Apex or Flow that the customer
 *   deploys, signed with Standard Webhooks (shared/webhooks/standard-webhooks.ts)
 *   using the integration's webhook secret; deduped on `webhook-id`. A body
 *   `{"type": "ping"}` is the setup check: answered 200, nothing queued.
 *
 * Both fail closed: no organizationId or no secret configured is a 401.
 */
import { jsonFailure, parseJson } from '../../http/json';
import { verifyStandardWebhook } from '../../webhooks/standard-webhooks';
import type { WebhookContext, WebhookRequest, WebhookScheme, WebhookVerdict } from '../types';
import { OUTBOUND_ACK, parseOutboundMessage, sameOrganization } from './outbound-message';
import type { SalesforceConfig } from './schemas';

/** Callout event types become part of the event name: keep them tame. */
const CALLOUT_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/;

function reject(status: 400 | 401, reason: string): WebhookVerdict {
  return { kind: 'reject', status, reason };
}

export const salesforceWebhook = {
  // Never `webhook-signature`; no Outbound Message header carries a secret.
  keptHeaders: ['content-type', 'user-agent', 'soapaction', 'webhook-id', 'webhook-timestamp'],

  verify(request: WebhookRequest, ctx: WebhookContext<SalesforceConfig>): WebhookVerdict {
    const mediaType = (request.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (mediaType === 'text/xml' || mediaType === 'application/soap+xml') return outboundMessage(request, ctx.config);
    if (mediaType === 'application/json' || mediaType.endsWith('+json')) return callout(request, ctx);
    return reject(400, 'unsupported content type: expected text/xml (Outbound Message) or application/json (signed callout)');
  },
} satisfies WebhookScheme<SalesforceConfig>;

function outboundMessage(request: WebhookRequest, config: SalesforceConfig): WebhookVerdict {
  const expected = config.organizationId;
  if (expected === undefined) return reject(401, 'no organizationId is configured: Outbound Messages cannot be authenticated');
  const parsed = parseOutboundMessage(request.rawBody);
  if (!parsed.ok) return reject(400, `not an Outbound Message: ${parsed.reason}`);
  const message = parsed.message;
  if (!sameOrganization(expected, message.organizationId)) return reject(401, 'OrganizationId does not match this integration');
  if (message.hasSessionId) {
    // Deliveries are stored raw for replay: a live session id must never land there.
    return reject(400, 'the message carries a SessionId: untick "Send Session ID" on the outbound message');
  }
  const seen = new Set<string>();
  const events = message.notifications
    .filter((n) => !seen.has(n.id) && seen.add(n.id))
    .map((n) => ({ deliveryId: n.id, event: `outbound_message.${n.sObjectType}` }));
  // Only the org id vouches for it (Salesforce signs nothing): what these can make us store is bounded by the core.
  return { kind: 'accept', events, reply: { status: 200, body: OUTBOUND_ACK, contentType: 'text/xml; charset=utf-8' }, unverified: true };
}

function callout(request: WebhookRequest, ctx: WebhookContext<SalesforceConfig>): WebhookVerdict {
  const secrets = ctx.secrets.filter((s) => s.length > 0);
  const verified = verifyStandardWebhook(request, secrets, ctx.now);
  if (!verified.ok) return reject(verified.status, verified.reason);

  let payload: unknown;
  try {
    payload = parseJson(request.rawBody);
  } catch (error) {
    return reject(400, jsonFailure(error));
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return reject(400, 'body is not a JSON object');
  const type = (payload as Record<string, unknown>).type;
  if (type === 'ping') {
    return { kind: 'respond', reply: { status: 200, body: JSON.stringify({ ok: true }), contentType: 'application/json' } };
  }
  const suffix = typeof type === 'string' && CALLOUT_TYPE.test(type) ? `.${type}` : '';
  return { kind: 'accept', events: [{ deliveryId: verified.id, event: `callout${suffix}` }] };
}
