// Everything the auditor needs in one scanned subscription, deployed once per subscription by main.bicep:
//   - the auditor's read role on the subscription (list clusters, read diagnostic settings, destinations,
//     the Activity Log), and its audit-record read role when delivery checks are on;
//   - the remediation role on the subscription, only when remediation is `apply` for it;
//   (main.bicep passes the custom roles of infra/roles/, or Reader and Monitoring Contributor with useBuiltInRoles)
//   - a resource group holding the subscription's Event Grid system topic (Microsoft.Resources.Subscriptions)
//     and its event subscription to the on_resource_event function (subscription-events.bicep).
// A management-group rollout deploys this same module once per subscription under the group
// (infra/README.md, "Management groups").
targetScope = 'subscription'

@description('Resource group for the system topic in this subscription (created unless it already holds an existing system topic).')
param resourceGroupName string

@description('Create the resource group. False when the subscription already has a system topic for its ARM events in another group.')
param createResourceGroup bool = true

@description('Region of the resource group (the system topic itself is global).')
param location string

@description('Tags for the resource group and the system topic.')
param tags object = {}

@description('Name of the system topic. Azure allows one system topic per source: name the existing one if the subscription has it.')
param systemTopicName string

@description('Principal ID of the auditor identity.')
param principalId string

@description('Role definition ID (GUID) of the read role: the auditor\'s reader, or Reader.')
param readerRoleId string

@description('Role definition ID (GUID) of the audit-record read role (the Log Analytics query actions); skipped when it is the read role itself (Reader holds them).')
param logReaderRoleId string

@description('Role definition ID (GUID) of the remediation role: the auditor\'s remediator, or Monitoring Contributor.')
param remediatorRoleId string

@description('Grant the audit-record read role (delivery checks are on).')
param readRecords bool = false

@description('Grant the remediation role on this subscription (remediation mode apply and the subscription is in the remediation scope).')
param grantRemediationRoles bool = false

@description('Create the event subscription. It needs the on_resource_event function to exist, so the first provision (before code is deployed) leaves it out.')
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

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, readerRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: list clusters, read their diagnostic settings, destinations and changes (CIS AKS 2.1.1)'
  }
}

resource logReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (readRecords && logReaderRoleId != readerRoleId) {
  name: guid(subscription().id, principalId, logReaderRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: query the audit tables of the workspaces here, to prove audit records arrive'
  }
}

resource remediator 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantRemediationRoles) {
  name: guid(subscription().id, principalId, remediatorRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', remediatorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor remediation (apply): write the missing audit-log categories to diagnostic settings'
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (createResourceGroup) {
  name: resourceGroupName
  location: location
  tags: tags
}

module events 'subscription-events.bicep' = {
  name: 'aks-auditor-arm-events'
  scope: resourceGroup(resourceGroupName)
  dependsOn: [
    eventsGroup
  ]
  params: {
    systemTopicName: systemTopicName
    tags: tags
    deployEventSubscription: deployEventSubscription
    functionResourceId: functionResourceId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
    maxDeliveryAttempts: maxDeliveryAttempts
    eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
  }
}

output subscriptionId string = subscription().subscriptionId
output systemTopicId string = events.outputs.systemTopicId
