/** Cosmos container names (partition key `/tenantId` on every one). Checked against infra/ by a test. */
export const CONTAINERS = {
  tenants: 'tenants',
  integrations: 'integrations',
  /**
   * Webhook URLs carry no tenant, so this index maps an integration id to its
   * tenant. Its documents put the integration id in `tenantId` (the partition
   * key): each lookup is a single-partition point read, spread across partitions.
   */
  integrationIndex: 'integration-index',
  runs: 'runs',
  /** The default record shard. */
  records: 'records',
  /** Extra record shards an integration's shard map can route entity types to (e.g. high-volume messages). */
  recordsActivity: 'records-activity',
  recordsContent: 'records-content',
  conflicts: 'conflicts',
  /** Messages a worker could not process, parked with a reason for an admin to inspect or requeue. */
  deadLetters: 'dead-letters',
} as const;

export type ContainerName = (typeof CONTAINERS)[keyof typeof CONTAINERS];

/** Containers records may live in, the default first. */
export const RECORD_SHARDS = [CONTAINERS.records, CONTAINERS.recordsActivity, CONTAINERS.recordsContent] as const;
export type RecordShard = (typeof RECORD_SHARDS)[number];

export function isRecordShard(name: string): name is RecordShard {
  return (RECORD_SHARDS as readonly string[]).includes(name);
}

export const PARTITION_KEY_PATH = '/tenantId';
