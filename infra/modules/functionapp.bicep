// Flex Consumption plan and the function app (Linux, Node 22), running as the
// user-assigned identity. The runtime lives in functionAppConfig: on Flex,
// FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION app settings are
// deprecated and must not be set.

param location string
param tags object
param name string
param planName string

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Blob endpoint of the host storage account (ends with /).')
param storageBlobEndpoint string

@description('Container for the deployment package.')
param deploymentContainerName string

@description('Every app setting, as name -> string value.')
param appSettings object

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the HTTP group (webhooks, management API). Webhook senders give up quickly (Slack after 3 s), longer than a cold start can take; 0 saves the baseline charge.')
@minValue(0)
@maxValue(20)
param alwaysReadyHttpInstances int = 1

@description('azd service name (azure.yaml services key): azd deploys the package to the site tagged azd-service-name with it.')
param serviceName string = 'api'

var runtimeName = 'node'
var runtimeVersion = '22'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (ADMIN_API_KEY, OAUTH_STATE_KEY) resolve with this identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        // `http` is the group of every HTTP-triggered function (https://aka.ms/flexconsumption/alwaysready);
        // the queue and timer triggers scale from zero.
        alwaysReady: alwaysReadyHttpInstances == 0 ? [] : [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
        ]
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
  }
}

resource siteAppSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  // PUBLIC_BASE_URL is the site's own default host name, known only once the site exists
  // (Flex apps may get a unique host name with a suffix, so it is not derived from the app name).
  properties: union(appSettings, { PUBLIC_BASE_URL: 'https://${site.properties.defaultHostName}' })
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
