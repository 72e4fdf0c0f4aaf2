// Azure Cache for Redis for rate limits, locks and dedupe keys. TLS only
// (port 6380). The access key never reaches an app setting or an output: it
// goes straight into the Key Vault secret `redis-url`, which REDIS_URL reads
// through a Key Vault reference.

param location string
param tags object
param name string

@description('Key Vault that receives the redis-url secret.')
param keyVaultName string

@description('Cache SKU. Standard C1 has a replica and an SLA; Basic is for dev only.')
param sku object = {
  name: 'Standard'
  family: 'C'
  capacity: 1
}

resource redis 'Microsoft.Cache/redis@2024-03-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: sku
    enableNonSslPort: false
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    redisVersion: '6'
    redisConfiguration: {
      // Every key has a TTL and holds a lock, a dedupe marker or a limiter
      // bucket: evicting one silently breaks correctness, so fail writes instead.
      'maxmemory-policy': 'noeviction'
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource redisUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-url'
  properties: {
    // The key is base64 ('/', '+', '='): percent-encode it for the URL userinfo.
    value: 'rediss://:${uriComponent(redis.listKeys().primaryKey)}@${redis.properties.hostName}:6380'
    contentType: 'text/plain'
  }
}

output name string = redis.name
output hostName string = redis.properties.hostName
output redisUrlSecretUri string = redisUrlSecret.properties.secretUri
