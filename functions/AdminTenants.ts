import { putTenant } from '../shared/api/tenants';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminTenants', {
  route: 'admin/tenants/{tenantId}',
  methods: ['PUT'],
  authLevel: 'function',
  handler: apiHandler((s, request) => putTenant(s.adminDeps, request)),
});
