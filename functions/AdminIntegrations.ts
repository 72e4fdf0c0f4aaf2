import { getIntegration, putIntegration } from '../shared/api/integrations';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminIntegrations', {
  route: 'admin/tenants/{tenantId}/integrations/{integrationId}',
  methods: ['GET', 'PUT'],
  authLevel: 'function',
  handler: apiHandler((s, request) =>
    request.method === 'PUT' ? putIntegration(s.adminDeps, request) : getIntegration(s.adminDeps, request),
  ),
});
