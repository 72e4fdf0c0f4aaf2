import { cancelRun, listRuns, postSync } from '../shared/api/runs';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminSync', {
  route: 'admin/tenants/{tenantId}/integrations/{integrationId}/sync',
  methods: ['POST'],
  authLevel: 'function',
  handler: apiHandler((s, request) => postSync(s.adminDeps, request)),
});

httpFunction('AdminRuns', {
  route: 'admin/tenants/{tenantId}/integrations/{integrationId}/runs',
  methods: ['GET'],
  authLevel: 'function',
  handler: apiHandler((s, request) => listRuns(s.adminDeps, request)),
});

httpFunction('AdminRunCancel', {
  route: 'admin/tenants/{tenantId}/integrations/{integrationId}/runs/{runId}/cancel',
  methods: ['POST'],
  authLevel: 'function',
  handler: apiHandler((s, request) => cancelRun(s.adminDeps, request)),
});
