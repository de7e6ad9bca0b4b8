// Read access for the auditor identity on one destination of the clusters' audit logs, so it can
// prove the trail exists (docs/reference.md, "Destinations"): Log Analytics Reader on a workspace
// (its capping, its tables' retention and, with delivery checks, its audit records), or Reader on a
// storage account (existence, lifecycle policy) plus, with delivery checks, Storage Blob Data Reader
// (the insights-logs-* blobs). Deployed into the destination's own subscription and resource group.

@description('Resource ID of the workspace or storage account.')
param destinationId string

@description('Principal ID of the auditor identity.')
param principalId string

@description('Also grant Storage Blob Data Reader on a storage account (delivery checks list its blobs).')
param readBlobs bool = false

// Built-in role definition IDs (Azure docs, "Azure built-in roles").
var logAnalyticsReaderRoleId = '73c42c96-874c-492b-b04d-ab87d138a893'
var readerRoleId = 'acdd72a7-3385-48ef-bd42-f606fba81ae7'
var storageBlobDataReaderRoleId = '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
var isWorkspace = contains(toLower(destinationId), '/providers/microsoft.operationalinsights/workspaces/')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = if (isWorkspace) {
  name: last(split(destinationId, '/'))
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!isWorkspace) {
  name: last(split(destinationId, '/'))
}

resource workspaceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (isWorkspace) {
  name: guid(destinationId, principalId, logAnalyticsReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: verify that this audit-log destination exists, keeps and receives the logs'
  }
}

resource storageReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!isWorkspace) {
  name: guid(destinationId, principalId, readerRoleId)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: verify that this audit-log destination exists and how long it keeps the logs'
  }
}

resource blobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!isWorkspace && readBlobs) {
  name: guid(destinationId, principalId, storageBlobDataReaderRoleId)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: verify that audit-log blobs reach this storage account'
  }
}
