import { listDeadLetters, requeueDeadLetter } from '../shared/api/deadletters';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminDeadLetters', {
  route: 'admin/tenants/{tenantId}/dead-letters',
  methods: ['GET'],
  authLevel: 'function',
  handler: apiHandler((s, request) => listDeadLetters(s.adminDeps, request)),
});

httpFunction('AdminDeadLetterRequeue', {
  route: 'admin/tenants/{tenantId}/dead-letters/{deadLetterId}/requeue',
  methods: ['POST'],
  authLevel: 'function',
  handler: apiHandler((s, request) => requeueDeadLetter(s.adminDeps, request)),
});
