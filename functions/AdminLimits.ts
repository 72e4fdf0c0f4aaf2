import { getTenantLimits, putTenantLimits } from '../shared/api/limits';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminLimits', {
  route: 'admin/tenants/{tenantId}/limits',
  methods: ['GET', 'PUT'],
  authLevel: 'function',
  handler: apiHandler((s, request) => {
    const deps = s.adminDeps;
    return request.method === 'PUT' ? putTenantLimits(deps, request) : getTenantLimits(deps, request);
  }),
});
