import { runHealthChecks } from '../shared/api/health';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('Health', {
  route: 'health',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: apiHandler(async (s) => {
    const report = await runHealthChecks(s.healthChecks);
    return { status: report.status === 'ok' ? 200 : 503, jsonBody: report };
  }),
});
