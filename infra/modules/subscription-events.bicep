// The Event Grid system topic for one subscription's ARM events and the event subscription that
// sends the relevant ones (docs/reference.md, "Events") to the on_resource_event function.
//
// Filtering happens in Event Grid, so the function only runs for:
//   event types  Microsoft.Resources.ResourceWriteSuccess, Microsoft.Resources.ResourceDeleteSuccess
//   operations   Microsoft.ContainerService/managedClusters/write, and a diagnostic setting's write or
//                delete in both names ARM uses: Microsoft.Insights/diagnosticSettings/write|delete and
//                Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/write|delete
// (advanced-filter string comparisons are case-insensitive). The function still ignores anything
// else it receives (a diagnostic setting on a resource that is not a managed cluster).
//
// Dead-lettering: system topics of global sources (an Azure subscription) cannot have a managed
// identity ("identity is unavailable for location 'global'"; Event Grid docs, "Enable managed identity
// for system topics", section "Global Azure sources"), so deadLetterWithResourceIdentity is not
// available here; the classic deadLetterDestination is used (Event Grid writes with its own identity).

@description('Name of the system topic (one per source is allowed: reuse the existing one if the subscription has it).')
param systemTopicName string

@description('Tags for the system topic.')
param tags object = {}

@description('Create the event subscription (needs the on_resource_event function to exist).')
param deployEventSubscription bool = false

@description('ARM ID of the Event Grid-triggered function: <functionAppId>/functions/on_resource_event.')
param functionResourceId string

@description('Resource ID of the storage account for undeliverable events.')
param deadLetterStorageAccountId string

@description('Blob container for undeliverable events.')
param deadLetterContainerName string

@description('Delivery attempts before an event is dead-lettered (1-30).')
@minValue(1)
@maxValue(30)
param maxDeliveryAttempts int = 30

@description('Minutes Event Grid keeps retrying an event before dead-lettering it (1-1440).')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Name of the event subscription.')
param eventSubscriptionName string = 'aks-audit-arm-events'

var includedEventTypes = [
  'Microsoft.Resources.ResourceWriteSuccess'
  'Microsoft.Resources.ResourceDeleteSuccess'
]

var relevantOperations = [
  'Microsoft.ContainerService/managedClusters/write'
  'Microsoft.Insights/diagnosticSettings/write'
  'Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/write'
  'Microsoft.Insights/diagnosticSettings/delete'
  'Microsoft.ContainerService/managedClusters/providers/Microsoft.Insights/diagnosticSettings/delete'
]

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: systemTopicName
  location: 'global'
  tags: tags
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}

resource eventSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = if (deployEventSubscription) {
  parent: systemTopic
  name: eventSubscriptionName
  properties: {
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: functionResourceId
        // The Python trigger takes one func.EventGridEvent per invocation.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: includedEventTypes
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: relevantOperations
        }
      ]
    }
    retryPolicy: {
      maxDeliveryAttempts: maxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
    deadLetterDestination: {
      endpointType: 'StorageBlob'
      properties: {
        resourceId: deadLetterStorageAccountId
        blobContainerName: deadLetterContainerName
      }
    }
    labels: [
      'aks-audit-auditor'
    ]
  }
}

output systemTopicId string = systemTopic.id
