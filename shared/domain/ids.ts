import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted at every depth: equal data → equal text → equal hash. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** Deterministic record id: the same provider object always lands on the same document. */
export function recordId(tenantId: string, integrationId: string, entityType: string, externalId: string): string {
  return sha256Hex(JSON.stringify([tenantId, integrationId, entityType, externalId])).slice(0, 40);
}

export function contentHash(data: Record<string, unknown>, deleted: boolean): string {
  return sha256Hex(canonicalJson({ data, deleted }));
}

/** Deterministic run id for a queue message: a redelivered message continues the same run. */
export function runIdForMessage(messageId: string): string {
  return `run-${sha256Hex(messageId).slice(0, 24)}`;
}

/**
 * Key Vault secret names allow only [0-9a-zA-Z-]; tenant and integration ids
 * also allow `_`. A hash keeps names valid, fixed-length and collision-free in
 * practice; the tenant and integration ride along as tags.
 */
export function secretNameFor(kind: 'cred' | 'whsec', tenantId: string, integrationId: string): string {
  return `${kind}-${sha256Hex(JSON.stringify([tenantId, integrationId])).slice(0, 40)}`;
}
