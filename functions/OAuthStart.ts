import { oauthStart } from '../shared/api/oauth';
import { credentialModuleFor } from '../shared/credentials/wiring';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

/** Admin-only: the Functions host checks the key (header or `code`), and so does the handler. */
httpFunction('OAuthStart', {
  route: 'oauth/{provider}/start',
  methods: ['GET'],
  authLevel: 'function',
  handler: apiHandler((s, request) => oauthStart(credentialModuleFor(s).oauth, request)),
});
