// The workspace-link role for the auditor identity on the remediation target workspace, deployed only when
// remediation is `apply`: ARM lets a diagnostic setting name a workspace only when its writer may perform
// Microsoft.OperationalInsights/workspaces/sharedKeys/action there (its linked access check; 403
// LinkedAuthorizationFailed otherwise, docs/deploy.md). main.bicep passes the auditor's custom role, or Log
// Analytics Contributor with useBuiltInRoles. Deployed into the workspace's own subscription and resource group.

@description('Name of the existing Log Analytics workspace that receives remediated audit logs.')
param workspaceName string

@description('Principal ID of the auditor identity.')
param principalId string

@description('Role definition ID (GUID) of the workspace-link role: the auditor\'s, or Log Analytics Contributor.')
param workspaceLinkRoleId string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource workspaceLink 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, workspaceLinkRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', workspaceLinkRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor remediation (apply): send cluster audit logs to this workspace'
  }
}
