import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getServices } from '../shared/composition';
import { receiveWebhook } from '../shared/webhooks/receive';
import { httpFunction } from './definitions';
import { webhookBodyLimit } from './http-adapter';

const unavailable: HttpResponseInit = { status: 503, jsonBody: { error: 'unavailable', reason: 'Retry later' } };

async function handler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const s = await getServices();
    // Refuse an oversized body before reading it.
    const declared = Number(request.headers.get('content-length') ?? '0');
    if (declared > s.settings.WEBHOOK_MAX_BODY_BYTES) {
      return { status: 413, jsonBody: { error: 'payload_too_large', reason: `Body exceeds ${s.settings.WEBHOOK_MAX_BODY_BYTES} bytes` } };
    }
    const rawBody = Buffer.from(await request.arrayBuffer());
    const route = { provider: request.params.provider ?? '', integrationId: request.params.integrationId ?? '' };
    const res = await receiveWebhook(s.webhookDeps, route, { rawBody, url: request.url, header: (name) => request.headers.get(name) ?? undefined });
    return { status: res.status, body: res.body, headers: { 'content-type': res.contentType } };
  } catch (error) {
    // A dependency failed: 503 makes the provider retry; nothing was both stored and left unqueued.
    context.error('webhook failed', error instanceof Error ? error.name : 'error');
    return unavailable;
  }
}

httpFunction('WebhookReceiver', { route: 'webhooks/{provider}/{integrationId}', methods: ['POST'], authLevel: 'anonymous', handler, maxBodyBytes: webhookBodyLimit });
