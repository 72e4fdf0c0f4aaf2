import { patchRecord } from '../shared/api/local-changes';
import { createRecord } from '../shared/api/record-create';
import { listRecords } from '../shared/api/records';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

httpFunction('AdminRecords', {
  route: 'admin/tenants/{tenantId}/records',
  methods: ['GET'],
  authLevel: 'function',
  handler: apiHandler((s, request) => listRecords(s.adminDeps, request)),
});

httpFunction('AdminRecordEdit', {
  route: 'admin/tenants/{tenantId}/records/{recordId}',
  methods: ['PATCH'],
  authLevel: 'function',
  handler: apiHandler((s, request) => patchRecord(s.adminDeps, request)),
});

// Same route, another method: a create is queued to the provider (202); its record appears when the push lands.
httpFunction('AdminRecordCreate', {
  route: 'admin/tenants/{tenantId}/records',
  methods: ['POST'],
  authLevel: 'function',
  handler: apiHandler((s, request) => createRecord(s.adminDeps, request)),
});
