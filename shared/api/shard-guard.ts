/**
 * A shard-map change may not strand records. Records are not moved between
 * shards: an entity type whose shard changes while it has records would be
 * synced again into the new shard, every record would exist twice (once
 * orphaned in the old shard) and pending local edits would stay on the
 * orphaned copies. So the change is refused with a 400 naming the entity
 * type and its records while any exist; it goes through while the type has
 * none (a new integration, or a type not synced yet).
 *
 * The count and the write happen under the integration's sync lease, so no
 * pull run is writing records of that type meanwhile (a run that holds the
 * lease makes the change a 409: retry once it has finished).
 */
import { randomUUID } from 'node:crypto';
import type { Integration } from '../domain/types';
import { InputError } from '../errors';
import { acquireLease, releaseLease } from '../kv/lease';
import type { KeyValueStore } from '../kv/port';
import { CONTAINERS, isRecordShard, type RecordShard } from '../storage/names';
import type { Repositories } from '../storage/repositories';
import { lockKey } from '../sync/pull';

/** Counting stops here: the refusal then says "at least". */
export const SHARD_MOVE_COUNT_CAP = 10_000;
/** Long enough for a count and a write; released as soon as they are done. */
const GUARD_LEASE_MS = 60_000;

export interface ShardMove {
  entityType: string;
  from: RecordShard;
  to: RecordShard;
}

function shardOf(shardMap: Record<string, string> | undefined, entityType: string): RecordShard {
  const mapped = shardMap?.[entityType];
  return mapped !== undefined && isRecordShard(mapped) ? mapped : CONTAINERS.records;
}

/** Entity types whose shard the new map changes, in a stable order. */
export function shardMoves(before: Record<string, string> | undefined, after: Record<string, string> | undefined): ShardMove[] {
  const types = [...new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])].sort();
  return types.flatMap((entityType) => {
    const from = shardOf(before, entityType);
    const to = shardOf(after, entityType);
    return from === to ? [] : [{ entityType, from, to }];
  });
}

export interface ShardGuardDeps {
  repos: Repositories;
  kv: Pick<KeyValueStore, 'setIfAbsent' | 'deleteIfEquals'>;
}

/**
 * Run `write` (the integration's save) when the shard map change strands no
 * records; otherwise throw the 400 (or the 409 while a run holds the lease).
 */
export async function guardShardMapChange<T>(deps: ShardGuardDeps, existing: Integration | undefined, next: Integration, write: () => Promise<T>): Promise<T> {
  const moves = existing === undefined ? [] : shardMoves(existing.shardMap, next.shardMap);
  if (moves.length === 0) return write();
  const lease = { key: lockKey(next.id), holder: `shard-map:${randomUUID()}` };
  if (!(await acquireLease(deps.kv, lease, GUARD_LEASE_MS))) {
    throw new InputError(409, 'A sync run holds this integration; change its shardMap once the run has finished');
  }
  try {
    for (const move of moves) {
      const count = await deps.repos.countRecords(next.tenantId, { integrationId: next.id, entityType: move.entityType }, move.from, SHARD_MOVE_COUNT_CAP);
      if (count > 0) throw new InputError(400, refusal(move, count));
    }
    return await write();
  } finally {
    await releaseLease(deps.kv, lease, GUARD_LEASE_MS);
  }
}

function refusal(move: ShardMove, count: number): string {
  const many = count >= SHARD_MOVE_COUNT_CAP ? `at least ${count}` : `${count}`;
  return (
    `shardMap.${move.entityType}: ${many} record${count === 1 ? '' : 's'} of entity type '${move.entityType}' ` +
    `live in shard '${move.from}'; moving the type to '${move.to}' is refused because records are not moved ` +
    `(each would exist twice and pending edits would stay on the old copies). Keep '${move.entityType}' in '${move.from}', ` +
    `or give a new integration this shardMap and let its first sync fill '${move.to}'.`
  );
}
