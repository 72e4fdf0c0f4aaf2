import { getCredentials, postWebhookSecretRotation, putCredentials, putOAuthClient } from '../shared/api/credentials';
import { credentialModuleFor } from '../shared/credentials/wiring';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

const base = 'admin/tenants/{tenantId}/integrations/{integrationId}';

httpFunction('AdminCredentials', {
  route: `${base}/credentials`,
  methods: ['GET', 'PUT'],
  authLevel: 'function',
  handler: apiHandler((s, request) => {
    const deps = credentialModuleFor(s).admin;
    return request.method === 'PUT' ? putCredentials(deps, request) : getCredentials(deps, request);
  }),
});

httpFunction('AdminOAuthClient', {
  route: `${base}/oauth-client`,
  methods: ['PUT'],
  authLevel: 'function',
  handler: apiHandler((s, request) => putOAuthClient(credentialModuleFor(s).admin, request)),
});

httpFunction('AdminWebhookSecretRotate', {
  route: `${base}/webhook-secret/rotate`,
  methods: ['POST'],
  authLevel: 'function',
  handler: apiHandler((s, request) => postWebhookSecretRotation(credentialModuleFor(s).admin, request)),
});
