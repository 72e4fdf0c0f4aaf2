// Castiel Sync: every Azure resource the code names.
//
//   azd up                      (azure.yaml; parameters from infra/main.parameters.json and the azd environment)
//   az deployment group create -g <rg> -f infra/main.bicep \
//     -p environmentName=prod adminApiKey=<secret> oauthStateKey=<base64 of 32 random bytes>
//
// `npm run infra:build` compiles this into infra/main.json (committed); test/unit/names.test.ts and
// test/unit/azd.test.ts check the names the code depends on (queues, containers, app settings) and what
// azd reads against that JSON. See infra/README.md.

targetScope = 'resourceGroup'

@description('Short environment name (prod, staging...); lowercase letters, digits and hyphens; part of every resource name.')
@minLength(1)
@maxLength(12)
param environmentName string

@description('Region for every resource; it must offer the Flex Consumption plan and Azure Managed Redis.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string = resourceGroup().location

@description('Admin API key (at least 32 characters). Stored in Key Vault; the app reads it through a Key Vault reference. A new value rotates it.')
@secure()
@minLength(32)
param adminApiKey string

@description('OAuth state HMAC key: base64 of at least 32 random bytes (openssl rand -base64 32). Stored in Key Vault.')
@secure()
@minLength(44)
param oauthStateKey string

@description('LOG_LEVEL of the app.')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('Flex Consumption: most instances the app may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Flex Consumption: memory per instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption: always-ready instances for the HTTP group (webhooks must be answered within seconds; 0 = scale from zero).')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 1

@description('Azure Managed Redis SKU (Balanced_B0 is the smallest).')
param redisSkuName string = 'Balanced_B0'

@description('Azure Managed Redis high availability (a replica and an SLA; off halves the price).')
param redisHighAvailability bool = true

@description('Extra tags for every resource.')
param tags object = {}

var env = toLower(environmentName)
var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, env))
var allTags = union(tags, {
  application: 'castiel-sync'
  environment: env
})

var names = {
  identity: 'id-castiel-${env}-${resourceToken}'
  workspace: 'log-castiel-${env}-${resourceToken}'
  appInsights: 'appi-castiel-${env}-${resourceToken}'
  storage: take('stcastiel${resourceToken}', 24)
  deploymentContainer: 'app-package'
  serviceBus: 'sb-castiel-${env}-${resourceToken}'
  cosmos: 'cosmos-castiel-${env}-${resourceToken}'
  keyVault: take('kv-castiel-${resourceToken}', 24)
  redis: 'redis-castiel-${env}-${resourceToken}'
  plan: 'plan-castiel-${env}-${resourceToken}'
  functionApp: 'func-castiel-${env}-${resourceToken}'
}

// One user-assigned identity for the host (storage, Service Bus trigger), the
// SDK clients in code (MANAGED_IDENTITY_CLIENT_ID) and Key Vault references.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'castiel-monitoring'
  params: {
    location: location
    tags: allTags
    workspaceName: names.workspace
    appInsightsName: names.appInsights
    principalId: identity.properties.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'castiel-storage'
  params: {
    location: location
    tags: allTags
    name: names.storage
    deploymentContainerName: names.deploymentContainer
    principalId: identity.properties.principalId
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'castiel-servicebus'
  params: {
    location: location
    tags: allTags
    name: names.serviceBus
    principalId: identity.properties.principalId
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'castiel-cosmos'
  params: {
    location: location
    tags: allTags
    name: names.cosmos
    principalId: identity.properties.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'castiel-keyvault'
  params: {
    location: location
    tags: allTags
    name: names.keyVault
    principalId: identity.properties.principalId
    adminApiKey: adminApiKey
    oauthStateKey: oauthStateKey
  }
}

module redis 'modules/redis.bicep' = {
  name: 'castiel-redis'
  params: {
    location: location
    tags: allTags
    name: names.redis
    principalId: identity.properties.principalId
    skuName: redisSkuName
    highAvailability: redisHighAvailability
  }
}

// Every app setting. The keys the code reads are those of settingsSchema in
// shared/config/settings.ts (test/unit/names.test.ts holds the two together);
// the rest are read by the Functions host. No secret appears in plain text:
// ADMIN_API_KEY and OAUTH_STATE_KEY are Key Vault references, and Redis has no
// secret at all (Entra ID auth with the identity). AZURE_CLIENT_ID is
// deliberately not set (it would change DefaultAzureCredential globally); code
// takes MANAGED_IDENTITY_CLIENT_ID instead. PORT, SANDBOX, LOCAL_* and
// COSMOS_KEY are local-only and stay unset here.
var appSettings = {
  // Host storage, identity-based.
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId

  // Application Insights with Entra ID ingestion (local auth is disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'

  // Service Bus trigger connection (functions/definitions.ts SERVICE_BUS_CONNECTION).
  ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identity.properties.clientId

  // Read by the code (settingsSchema).
  MANAGED_IDENTITY_CLIENT_ID: identity.properties.clientId
  COSMOS_ENDPOINT: cosmos.outputs.endpoint
  COSMOS_DATABASE: cosmos.outputs.databaseName
  KEY_VAULT_URL: keyVault.outputs.uri
  // Azure Managed Redis: TLS on port 10000, no password in the URL; the app authenticates with a token
  // for its identity, whose object id is the Redis username (shared/kv/entra-auth.ts).
  REDIS_URL: 'rediss://${redis.outputs.hostName}:${redis.outputs.port}'
  REDIS_AUTH: 'entra'
  REDIS_ENTRA_USERNAME: identity.properties.principalId
  REDIS_KEY_PREFIX: 'castiel:'
  ADMIN_API_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.adminApiKeySecretUri})'
  OAUTH_STATE_KEY: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.oauthStateKeySecretUri})'
  LOG_LEVEL: logLevel
  WEBHOOK_MAX_BODY_BYTES: '1048576'
  WEBHOOK_COALESCE_SECONDS: '5'
  SYNC_DEFAULT_SCHEDULE_MINUTES: '60'
  SYNC_TIME_BUDGET_SECONDS: '600'
  // Egress policy: provider calls go over https to the providers' documented hosts only. `sandbox`
  // (loopback for the local sandboxes) is refused by the app when Service Bus is configured.
  EGRESS_ALLOW_LOCAL: 'off'
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'castiel-functionapp'
  params: {
    location: location
    tags: allTags
    name: names.functionApp
    planName: names.plan
    identityId: identity.id
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    serviceName: 'api'
  }
}

// Outputs in azd's style: azd stores each in the environment's .env (AZURE_LOCATION, AZURE_TENANT_ID and
// SERVICE_<NAME>_* are the names its templates use); `az deployment group show --query properties.outputs`
// reads the same.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output REDIS_HOST_NAME string = redis.outputs.hostName
