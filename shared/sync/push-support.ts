/**
 * What an integration can push, asked the same way by the admin API (which
 * refuses with a 400 before anything is queued) and by the outbound worker
 * (which parks a push that cannot be written, e.g. after a mapping changed).
 */
import type { Integration } from '../domain/types';
import type { ProviderDefinition, PushOp } from '../providers/types';
import { invertPatch } from './transform';

/** The entity types the integration's provider can write: its fixed ones plus those its config names (Salesforce's objects). */
export function pushableTypes(provider: ProviderDefinition | undefined, integration: Pick<Integration, 'config'>): readonly string[] {
  const push = provider?.push;
  if (!provider || !push) return [];
  if (!push.entityTypesFor) return push.entityTypes;
  const config = provider.configSchema.safeParse(integration.config);
  return config.success ? [...push.entityTypes, ...push.entityTypesFor(config.data)] : push.entityTypes;
}

export function canPush(provider: ProviderDefinition | undefined, integration: Pick<Integration, 'config'>, entityType: string): boolean {
  return pushableTypes(provider, integration).includes(entityType);
}

export type PatchCheck = { ok: true; patch: Record<string, unknown> } | { ok: false; field: string; reason: string };

/**
 * A canonical patch as the provider will be sent it: through the inverse of
 * the integration's mapping, then held to the fields the provider can write.
 * The reason names the field as the caller wrote it (the canonical name, and
 * the provider path it maps to).
 */
export function providerPatch(
  provider: ProviderDefinition,
  integration: Pick<Integration, 'mappings'>,
  entityType: string,
  op: PushOp,
  patch: Record<string, unknown>,
): PatchCheck {
  const inverted = invertPatch(integration.mappings, entityType, patch);
  if (!inverted.ok) return inverted;
  const push = provider.push;
  if (push?.writable && op !== 'delete') {
    const fields = integration.mappings?.[entityType];
    for (const name of Object.keys(patch)) {
      const from = fields?.[name]?.from ?? name;
      const top = from.split('.')[0] ?? from;
      if (!push.writable(entityType, top, op)) {
        const where = from === name ? name : `${name} (mapped from ${from})`;
        return { ok: false, field: name, reason: `${where} cannot be written to a ${provider.displayName} ${entityType}` };
      }
    }
  }
  return { ok: true, patch: inverted.data };
}
