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
  records: 'records',
  /** Messages a worker could not process, parked with a reason for an admin to inspect or requeue. */
  deadLetters: 'dead-letters',
} as const;

export type ContainerName = (typeof CONTAINERS)[keyof typeof CONTAINERS];

export const PARTITION_KEY_PATH = '/tenantId';
