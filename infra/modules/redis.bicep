// Azure Managed Redis (Microsoft.Cache/redisEnterprise + databases) for rate limits, locks and dedupe keys.
// Azure Cache for Redis (Microsoft.Cache/redis) is retiring and refuses new caches since 2026-04-01;
// Managed Redis is its successor (https://learn.microsoft.com/azure/redis/overview).
//
// No secret exists: access keys are off and the app authenticates with Entra ID. The app's user-assigned
// identity gets the built-in `default` access policy on the database, and the app connects to
// rediss://<hostName>:10000 with a token for https://redis.azure.com/.default, the identity's object id as
// the username (https://learn.microsoft.com/azure/redis/entra-for-authentication).

param location string
param tags object
param name string

@description('Object (principal) id of the app identity: the Redis username under Entra ID auth.')
param principalId string

@description('Managed Redis SKU. Balanced_B0 (0.5 GB) is the smallest; the keys here are small and short-lived.')
param skuName string = 'Balanced_B0'

@description('Replicate the data set (SLA, survives a node loss). Off halves the price; locks and dedupe keys are then lost with a node.')
param highAvailability bool = true

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    // Reachable from Flex Consumption without VNet integration; Entra ID gates every connection
    // (as for the other services here: see infra/README.md, Choices and caveats).
    publicNetworkAccess: 'Enabled'
  }
}

// The database must be named `default` (Managed Redis has one database per cluster).
resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    // TLS only, on Managed Redis's port.
    clientProtocol: 'Encrypted'
    port: 10000
    // EnterpriseCluster: the proxy presents the whole cluster as one endpoint that speaks the classic
    // (non-cluster) protocol, so the single-node ioredis client works unchanged. OSSCluster (the default)
    // would hand out MOVED redirections that only a cluster client follows. The Lua scripts keep every key
    // of one script under one hash tag `{…}` either way, so a later move to OSSCluster + ioredis Cluster
    // needs no script change. The policy cannot be changed later without recreating the database.
    clusteringPolicy: 'EnterpriseCluster'
    // Every key has a TTL and holds a lock, a dedupe marker or a limiter bucket: evicting one silently
    // breaks correctness, so refuse writes when full instead.
    evictionPolicy: 'NoEviction'
    // Entra ID only: no key exists to leak.
    accessKeysAuthentication: 'Disabled'
  }
}

// Entra ID data access for the app identity: the built-in `default` policy (all data commands).
resource appAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: database
  // Name: letters and digits only, at most 60.
  name: 'castielapp'
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: principalId
    }
  }
}

output name string = cluster.name
output hostName string = cluster.properties.hostName
output port int = database.properties.port
