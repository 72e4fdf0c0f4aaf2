/**
 * Where the egress policy meets the providers. The composition root wraps
 * the registry once: each definition it hands out guards every fetch it
 * passes to the provider (pull, push, token refresh, OAuth code exchange)
 * with that provider's declared hosts, so the core never switches on a
 * provider name and no path — sync, credentials, the OAuth routes, a test
 * that swaps `deps.fetch` — reaches a provider unguarded. URLs inside new
 * credentials (Salesforce's instanceUrl) are checked before they are stored.
 *
 * The admin API checks an integration's URLs with the same rules
 * (`assertIntegrationEgress`), so a bad baseUrl is a 400, not a failed run.
 */
import { InputError } from '../errors';
import type { AuthSupport, EgressDeclaration, ProviderDefinition, ProviderRegistry } from '../providers/types';
import { guardFetch } from './egress';
import { EgressRefusedError, STRICT_EGRESS, type EgressPolicy, type EgressRule } from './egress-policy';

export function guardProviders(registry: ProviderRegistry, policy: EgressPolicy): ProviderRegistry {
  const guarded = new Map<string, ProviderDefinition>();
  return {
    keys: () => registry.keys(),
    get: (key) => {
      const found = guarded.get(key);
      if (found) return found;
      const definition = registry.get(key);
      if (!definition) return undefined;
      const wrapped = guardDefinition(definition, policy);
      guarded.set(key, wrapped);
      return wrapped;
    },
    egress: policy,
  };
}

/** The hosts a provider's calls may reach for this config: documented ones plus those the admin added. */
export function allowedHosts<C, K>(declaration: EgressDeclaration<C, K> | undefined, config: C): string[] {
  if (!declaration) return [];
  return [...declaration.hosts, ...(declaration.configHosts?.(config) ?? [])];
}

function guardDefinition<C, K>(definition: ProviderDefinition<C, K>, policy: EgressPolicy): ProviderDefinition<C, K> {
  const declaration = definition.egress;
  const label = definition.displayName;
  const guard = <T extends { config: C; fetch: typeof fetch }>(ctx: T): T => ({
    ...ctx,
    fetch: guardFetch(ctx.fetch, policy, allowedHosts(declaration, ctx.config), label),
  });
  const { push, auth } = definition;
  return {
    ...definition,
    pull: async function* guardedPull(ctx) {
      try {
        yield* definition.pull(guard(ctx));
      } catch (error) {
        throw refusalIn(error);
      }
    },
    ...(push ? { push: { ...push, apply: (ctx, operation) => push.apply(guard(ctx), operation).catch(rethrowRefusal) } } : {}),
    ...(auth ? { auth: guardAuth(auth, declaration, policy, label, guard) } : {}),
  };
}

function guardAuth<C, K>(
  auth: AuthSupport<C, K>,
  declaration: EgressDeclaration<C, K> | undefined,
  policy: EgressPolicy,
  label: string,
  guard: <T extends { config: C; fetch: typeof fetch }>(ctx: T) => T,
): AuthSupport<C, K> {
  const refresh = auth.refresh?.bind(auth);
  const { oauth } = auth;
  const checked = (config: C) => (credentials: K): K => {
    const problem = urlProblems(policy, declaration, config, declaration?.credentialUrls?.(credentials)).at(0);
    if (problem) throw new EgressRefusedError(problem.rule, `${label}: egress refused (${problem.rule}): credentials.${problem.field}: ${problem.reason}`);
    return credentials;
  };
  return {
    ...auth,
    ...(refresh ? { refresh: (ctx, credentials) => refresh(guard(ctx), credentials).then(checked(ctx.config), rethrowRefusal) } : {}),
    ...(oauth
      ? { oauth: { ...oauth, exchangeCode: (ctx, client, params) => oauth.exchangeCode(guard(ctx), client, params).then(checked(ctx.config), rethrowRefusal) } }
      : {}),
  };
}

/**
 * A refusal wrapped by a provider's own error handling (a token request
 * turns any fetch failure into "token endpoint unreachable", which is
 * retried) comes back out as itself: retrying a refused URL changes nothing.
 */
function refusalIn(error: unknown): unknown {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof EgressRefusedError) return e;
  }
  return error;
}

function rethrowRefusal(error: unknown): never {
  throw refusalIn(error);
}

interface UrlProblem {
  field: string;
  rule: EgressRule;
  reason: string;
}

function urlProblems<C, K>(
  policy: EgressPolicy,
  declaration: EgressDeclaration<C, K> | undefined,
  config: C,
  urls: Readonly<Record<string, string | undefined>> | undefined,
): UrlProblem[] {
  const hosts = allowedHosts(declaration, config);
  const problems: UrlProblem[] = [];
  for (const [field, raw] of Object.entries(urls ?? {})) {
    if (raw === undefined) continue;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      problems.push({ field, rule: 'scheme', reason: 'not a URL' });
      continue;
    }
    const refused = policy.refusal(url, hosts);
    if (refused) problems.push({ field, ...refused });
  }
  return problems;
}

/**
 * Every URL an integration makes calls to — baseUrl, URLs in its config and
 * credentials — held to the registry's policy (strict when the registry was
 * not guarded). Throws a 400 naming the field and the rule.
 */
export function assertIntegrationEgress(
  registry: ProviderRegistry,
  provider: ProviderDefinition,
  target: { baseUrl: string; config: unknown; credentials: unknown },
): void {
  const policy = registry.egress ?? STRICT_EGRESS;
  const declaration = provider.egress;
  const checks: [string, Readonly<Record<string, string | undefined>> | undefined][] = [
    ['', { baseUrl: target.baseUrl }],
    ['config.', declaration?.configUrls?.(target.config)],
    ['credentials.', declaration?.credentialUrls?.(target.credentials)],
  ];
  for (const [prefix, urls] of checks) {
    const problem = urlProblems(policy, declaration, target.config, urls).at(0);
    if (problem) throw new InputError(400, `${prefix}${problem.field}: egress policy (${problem.rule}): ${problem.reason}`);
  }
}
