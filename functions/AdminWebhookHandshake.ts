import { getWebhookHandshake, postWebhookHandshake } from '../shared/api/webhook-handshake';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminWebhookHandshake', {
  route: 'admin/tenants/{tenantId}/integrations/{integrationId}/webhook/handshake',
  methods: ['GET', 'POST'],
  authLevel: 'function',
  handler: apiHandler((s, request) => (request.method === 'POST' ? postWebhookHandshake(s.adminDeps, request) : getWebhookHandshake(s.adminDeps, request))),
});
