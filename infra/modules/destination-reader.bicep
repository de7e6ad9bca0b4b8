// Read access for the auditor identity on one destination of the clusters' audit logs, so it can
// prove the trail exists (docs/reference.md, "Destinations"), where its roles on the scanned subscriptions do
// not reach (a central security workspace elsewhere): the read role on a workspace (its capping, its tables'
// retention) plus, with delivery checks, the audit-record read role (its audit tables); the read role on a
// storage account (existence, lifecycle policy) plus, with delivery checks, the blob read role (the
// insights-logs-* blobs). main.bicep passes the auditor's custom roles, or with useBuiltInRoles Log Analytics
// Reader (workspaces), Reader and Storage Blob Data Reader (storage). Deployed into the destination's own
// subscription and resource group.

@description('Resource ID of the workspace or storage account.')
param destinationId string

@description('Principal ID of the auditor identity.')
param principalId string

@description('Role definition ID (GUID) of the read role on a workspace: the auditor\'s reader, or Log Analytics Reader.')
param workspaceReaderRoleId string

@description('Role definition ID (GUID) of the read role on a storage account: the auditor\'s reader, or Reader.')
param storageReaderRoleId string

@description('Role definition ID (GUID) of the audit-record read role on a workspace; skipped when it is the workspace read role itself (Log Analytics Reader holds it).')
param logReaderRoleId string

@description('Role definition ID (GUID) of the blob read role: the auditor\'s blob reader, or Storage Blob Data Reader.')
param blobReaderRoleId string

@description('Also grant the record-reading roles (delivery checks query the workspace, list the account\'s blobs).')
param readRecords bool = false

var isWorkspace = contains(toLower(destinationId), '/providers/microsoft.operationalinsights/workspaces/')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = if (isWorkspace) {
  name: last(split(destinationId, '/'))
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = if (!isWorkspace) {
  name: last(split(destinationId, '/'))
}

resource workspaceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (isWorkspace) {
  name: guid(destinationId, principalId, workspaceReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', workspaceReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: verify that this audit-log destination exists and keeps the logs'
  }
}

resource workspaceRecordReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (isWorkspace && readRecords && logReaderRoleId != workspaceReaderRoleId) {
  name: guid(destinationId, principalId, logReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: verify that audit records reach this workspace'
  }
}

resource storageReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!isWorkspace) {
  name: guid(destinationId, principalId, storageReaderRoleId)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: verify that this audit-log destination exists and how long it keeps the logs'
  }
}

resource blobReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!isWorkspace && readRecords) {
  name: guid(destinationId, principalId, blobReaderRoleId)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: verify that audit-log blobs reach this storage account'
  }
}
