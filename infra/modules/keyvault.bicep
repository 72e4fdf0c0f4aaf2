// Key Vault for provider credentials (written by the app at runtime) and for
// the app's own secrets, which app settings read through Key Vault references.
// RBAC authorization, soft delete and purge protection on.

param location string
param tags object
param name string

@description('Principal id of the function app identity.')
param principalId string

@description('Admin API key; stored as the admin-api-key secret.')
@secure()
param adminApiKey string

@description('OAuth state HMAC key; stored as the oauth-state-key secret.')
@secure()
param oauthStateKey string

// Key Vault Secrets Officer: the app reads the references and also writes
// OAuth tokens it refreshes (TokenRefresher), so Secrets User is not enough.
var secretsOfficerRoleId = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    // Flex Consumption cannot resolve Key Vault references against a
    // network-restricted vault, so the vault stays reachable (RBAC still gates it).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource secretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, secretsOfficerRoleId)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', secretsOfficerRoleId)
  }
}

resource adminApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'admin-api-key'
  properties: {
    value: adminApiKey
    contentType: 'text/plain'
  }
}

resource oauthStateKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'oauth-state-key'
  properties: {
    value: oauthStateKey
    contentType: 'text/plain'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Versionless URI: the reference follows the latest version after a rotation.
output adminApiKeySecretUri string = adminApiKeySecret.properties.secretUri
output oauthStateKeySecretUri string = oauthStateKeySecret.properties.secretUri
