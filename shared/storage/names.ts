/** Cosmos container names (partition key `/tenantId` on every one). Checked against infra/ by a test. */
export const CONTAINERS = {
  tenants: 'tenants',
  integrations: 'integrations',
  runs: 'runs',
  records: 'records',
} as const;

export type ContainerName = (typeof CONTAINERS)[keyof typeof CONTAINERS];

export const PARTITION_KEY_PATH = '/tenantId';
