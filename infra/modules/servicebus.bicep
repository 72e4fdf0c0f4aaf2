// Service Bus namespace and the work queues between the functions.
// Queue names and settings mirror shared/messaging/names.ts (QUEUES,
// MAX_DELIVERY_COUNT, DUPLICATE_DETECTION_WINDOW_MS); test/unit/names.test.ts
// fails when the two drift.

param location string
param tags object
param name string

@description('Principal id of the function app identity.')
param principalId string

// Must equal Object.values(QUEUES) in shared/messaging/names.ts.
var queueNames = [
  'sync-inbound'
  'sync-outbound'
]

var serviceBusDataSenderRoleId = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataReceiverRoleId = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
var serviceBusDataOwnerRoleId = '090c5cfd-751d-490a-894a-3ce6f1109419'

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    // Standard: duplicate detection and scheduled messages, no reserved capacity.
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // Entra ID only: no SAS keys exist to leak.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [for queueName in queueNames: {
  parent: namespace
  name: queueName
  properties: {
    // Peek-lock duration; the Functions host renews it while a handler runs
    // (host.json maxAutoLockRenewalDuration).
    lockDuration: 'PT1M'
    // A throw abandons the message; after this many deliveries it dead-letters.
    maxDeliveryCount: 10
    // Producers set deterministic message ids, so a re-enqueue within the
    // window is dropped by the broker.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'PT10M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    requiresSession: false
    enablePartitioning: false
    enableBatchedOperations: true
    maxSizeInMegabytes: 1024
  }
}]

resource senderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, principalId, serviceBusDataSenderRoleId)
  scope: namespace
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSenderRoleId)
  }
}

resource receiverRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(namespace.id, principalId, serviceBusDataReceiverRoleId)
  scope: namespace
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiverRoleId)
  }
}

// Target-based scaling reads each queue's message count, which needs the
// Manage claim. Scope Data Owner to the trigger queues only, not the namespace.
resource queueOwnerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (queueName, i) in queueNames: {
  name: guid(queues[i].id, principalId, serviceBusDataOwnerRoleId)
  scope: queues[i]
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataOwnerRoleId)
  }
}]

output name string = namespace.name
// e.g. sb-castiel-abc.servicebus.windows.net (serviceBusEndpoint is https://<ns>.servicebus.windows.net:443/)
output fullyQualifiedNamespace string = replace(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':443/', '')
