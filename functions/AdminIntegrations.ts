import { getIntegration, patchIntegration, putIntegration } from '../shared/api/integrations';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminIntegrations', {
  route: 'admin/tenants/{tenantId}/integrations/{integrationId}',
  methods: ['GET', 'PUT', 'PATCH'],
  authLevel: 'function',
  handler: apiHandler((s, request) => {
    if (request.method === 'PUT') return putIntegration(s.adminDeps, request);
    if (request.method === 'PATCH') return patchIntegration(s.adminDeps, request);
    return getIntegration(s.adminDeps, request);
  }),
});
