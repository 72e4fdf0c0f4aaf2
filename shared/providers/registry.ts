/**
 * The typed provider registry: the core looks providers up by key here and
 * never switches on a provider name. Adding a provider is a folder under
 * providers/ and one line below.
 */
import { githubProvider } from './github';
import { googleProvider } from './google';
import { notionProvider } from './notion';
import { salesforceProvider } from './salesforce';
import { slackProvider } from './slack';
import type { ProviderDefinition, ProviderRegistry } from './types';

export const providers = {
  github: githubProvider,
  slack: slackProvider,
  notion: notionProvider,
  salesforce: salesforceProvider,
  google: googleProvider,
} as const satisfies Record<string, ProviderDefinition>;

export type ProviderKey = keyof typeof providers;

export function isProviderKey(key: string): key is ProviderKey {
  // hasOwn, not `in`: `getProvider('constructor')` must not find Object's prototype.
  return Object.hasOwn(providers, key);
}

export function getProvider(key: string): ProviderDefinition | undefined {
  return isProviderKey(key) ? providers[key] : undefined;
}

export function providerKeys(): ProviderKey[] {
  return Object.keys(providers).filter(isProviderKey);
}

/** The registry as the core consumes it. */
export const providerRegistry: ProviderRegistry = { get: getProvider, keys: providerKeys };
