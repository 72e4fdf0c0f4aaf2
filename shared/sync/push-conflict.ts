/**
 * A push met a provider version it had not seen (PushConflictError from the
 * provider's conditional write or re-read). The integration's conflict
 * strategy settles it, as a pull would have (page.ts):
 * - `provider` (provider-wins, or newest-wins with the provider newer): the
 *   record takes the provider's version and the local change is dropped;
 * - `manual`: a conflict is parked for an admin, the record left as it is;
 * - `local` (local-wins, or newest-wins with the edit newer): the record
 *   takes the provider's version as the one seen, keeping the local change,
 *   and the push goes again against that version.
 * When the provider could not say what it holds (a refused conditional
 * write carries no record), a pull is asked for and the push waits for it:
 * the pull meets the pending change and applies the same strategy.
 */
import { contentHash } from '../domain/ids';
import type { Conflict, Integration, SyncRecord } from '../domain/types';
import type { NormalizedRecord } from '../providers/types';
import type { RecordShard } from '../storage/names';
import type { Stored } from '../storage/port';
import type { Repositories } from '../storage/repositories';
import { decideConflict } from './conflicts';
import { transformRecord } from './transform';

export type ConflictSettlement =
  /** The local change was dropped or parked for an admin: nothing more to push. */
  | { kind: 'settled'; reason: string }
  /** The record now holds the provider's version as seen, with the local change: push again. */
  | { kind: 'push-again'; record: Stored<SyncRecord> }
  /** Nothing known of the provider's version: ask for a pull and wait. */
  | { kind: 'needs-pull' };

export async function settlePushConflict(
  repos: Repositories,
  integration: Integration,
  found: { record: Stored<SyncRecord>; shard: RecordShard },
  remote: NormalizedRecord | undefined,
  now: Date,
): Promise<ConflictSettlement> {
  const local = found.record.local;
  if (!remote || !local) return { kind: 'needs-pull' };
  const transformed = transformRecord(integration.mappings, found.record.entityType, remote.data);
  // A provider version the mapping refuses is for the pull to report as invalid.
  if (!transformed.ok) return { kind: 'needs-pull' };
  const data = transformed.data;
  const hash = contentHash(data, remote.deleted);
  const decision = decideConflict(integration.conflictStrategy, local, remote.updatedAt);
  const { etag, local: _pending, ...doc } = found.record;
  const provider: SyncRecord = { ...doc, data, updatedAt: remote.updatedAt, deleted: remote.deleted, contentHash: hash, syncedAt: now.toISOString() };

  if (decision === 'manual') {
    const existing = await repos.getConflict(integration.tenantId, found.record.id);
    const conflict: Conflict = {
      id: found.record.id,
      tenantId: integration.tenantId,
      type: 'conflict',
      integrationId: integration.id,
      recordId: found.record.id,
      shard: found.shard,
      entityType: found.record.entityType,
      externalId: found.record.externalId,
      status: 'open',
      local,
      provider: { data, updatedAt: remote.updatedAt, deleted: remote.deleted, contentHash: hash },
      createdAt: existing?.status === 'open' ? existing.createdAt : now.toISOString(),
    };
    await repos.putConflict(conflict);
    return { kind: 'settled', reason: 'the provider changed the record since it was last seen; a conflict waits for an admin' };
  }
  if (decision === 'provider') {
    await repos.putRecord(provider, etag, found.shard);
    return { kind: 'settled', reason: 'the provider changed the record since it was last seen; its version wins' };
  }
  const stored = await repos.putRecord({ ...provider, local }, etag, found.shard);
  return { kind: 'push-again', record: stored };
}
