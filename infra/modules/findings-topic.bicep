// The Event Grid custom topic the auditor publishes every evaluation to (CloudEvents 1.0).
// Local (key/SAS) auth is disabled: the auditor publishes with its identity, which gets
// EventGrid Data Sender on this topic only. AUDITOR_EVENTGRID_TOPIC_KEY stays empty.

@description('Name of the custom topic.')
param name string

@description('Azure region.')
param location string

@description('Tags applied to the topic.')
param tags object = {}

@description('Principal ID of the auditor identity (gets EventGrid Data Sender).')
param principalId string

// EventGrid Data Sender: d5a91429-5739-47e2-a06b-3470a27159e7 (Azure docs, "Azure built-in roles").
var eventGridDataSenderRoleId = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  // checkov:skip=CKV_AZURE_193: The auditor publishes from a Flex Consumption app without VNet integration, so the topic accepts publishing on its public endpoint; every publish needs an Entra token (disableLocalAuth) and the Data Sender role.
  // checkov:skip=CKV_AZURE_191: A topic identity is only used to deliver to event handlers with managed identity; no subscription here does, and publishers authenticate with their own identity.
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    minimumTlsVersionAllowed: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource dataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, eventGridDataSenderRoleId)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSenderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: publish findings (CloudEvents) to the findings topic'
  }
}

output id string = topic.id
output name string = topic.name

@description('Publishing endpoint (https://<topic>.<region>-1.eventgrid.azure.net/api/events).')
output endpoint string = topic.properties.endpoint
