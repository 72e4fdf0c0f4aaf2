import { listConflicts, resolveConflict } from '../shared/api/conflicts';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminConflicts', {
  route: 'admin/tenants/{tenantId}/conflicts',
  methods: ['GET'],
  authLevel: 'function',
  handler: apiHandler((s, request) => listConflicts(s.adminDeps, request)),
});

httpFunction('AdminConflictResolve', {
  route: 'admin/tenants/{tenantId}/conflicts/{conflictId}/resolve',
  methods: ['POST'],
  authLevel: 'function',
  handler: apiHandler((s, request) => resolveConflict(s.adminDeps, request)),
});
