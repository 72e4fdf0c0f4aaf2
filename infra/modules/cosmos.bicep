// Cosmos DB (NoSQL, serverless) account, the `castiel` database and its
// containers. Container names mirror CONTAINERS in shared/storage/names.ts and
// every container is partitioned on PARTITION_KEY_PATH; test/unit/names.test.ts
// fails when the two drift.

param location string
param tags object
param name string

@description('Principal id of the function app identity.')
param principalId string

// Default of COSMOS_DATABASE in shared/config/settings.ts.
param databaseName string = 'castiel'

// Must equal Object.values(CONTAINERS) in shared/storage/names.ts.
var containerNames = [
  'tenants'
  'integrations'
  'integration-index'
  'runs'
  'records'
  'records-activity'
  'records-content'
  'conflicts'
  'dead-letters'
]

// ORDER_FIELDS in shared/adapters.ts: the field each container's list queries
// sort by. Cosmos serves `ORDER BY c.<field>, c.id` only from a composite index.
var orderFields = {
  runs: 'queuedAt'
  records: 'updatedAt'
  'records-activity': 'updatedAt'
  'records-content': 'updatedAt'
  conflicts: 'createdAt'
  'dead-letters': 'parkedAt'
}

// Both directions of (field, id) for containers listed above; none elsewhere.
var compositeIndexes = toObject(containerNames, name => name, name => contains(orderFields, name) ? [
  [
    {
      path: '/${orderFields[name]}'
      order: 'ascending'
    }
    {
      path: '/id'
      order: 'ascending'
    }
  ]
  [
    {
      path: '/${orderFields[name]}'
      order: 'descending'
    }
    {
      path: '/id'
      order: 'descending'
    }
  ]
] : [])

// PARTITION_KEY_PATH in shared/storage/names.ts.
var partitionKeyPath = '/tenantId'

// Cosmos DB Built-in Data Contributor (data-plane role, assigned through
// sqlRoleAssignments, not Microsoft.Authorization).
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    consistencyPolicy: {
      // ETag If-Match and read-your-writes within a client session.
      defaultConsistencyLevel: 'Session'
    }
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    // Serverless: pay per request; switch to provisioned autoscale when the
    // steady load justifies it (the containers need no change besides options).
    capabilities: [
      {
        name: 'EnableServerless'
      }
    ]
    // Entra ID only: account keys cannot be used (COSMOS_KEY stays unset in Azure).
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: 'Continuous7Days'
      }
    }
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource containers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [for containerName in containerNames: {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: [
          partitionKeyPath
        ]
        kind: 'Hash'
        version: 2
      }
      // TTL on, no default expiry: documents live forever unless they carry
      // their own `ttl` (webhook deliveries, dedupe entries, old runs).
      defaultTtl: -1
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/"_etag"/?'
          }
        ]
        compositeIndexes: compositeIndexes[containerName]
      }
    }
  }
}]

resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: account
  name: guid(account.id, principalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
    principalId: principalId
    scope: account.id
  }
}

output name string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
