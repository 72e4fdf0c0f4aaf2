import { oauthCallback } from '../shared/api/oauth';
import { credentialModuleFor } from '../shared/credentials/wiring';
import { httpFunction } from './definitions';
import { apiHandler } from './http-adapter';

/** Anonymous: the provider redirects the admin's browser here; the signed state and flow cookie guard it. */
httpFunction('OAuthCallback', {
  route: 'oauth/{provider}/callback',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: apiHandler((s, request) => oauthCallback(credentialModuleFor(s).oauth, request)),
});
