// Log Analytics Contributor for the auditor identity on the remediation target workspace, deployed
// only when remediation is `apply`: linking a cluster's audit logs to a workspace needs write access
// on the workspace as well as on the cluster's diagnostic settings (README, "Remediation").
// Deployed into the workspace's own subscription and resource group.

@description('Name of the existing Log Analytics workspace that receives remediated audit logs.')
param workspaceName string

@description('Principal ID of the auditor identity.')
param principalId string

// Log Analytics Contributor: 92aaf0da-9dab-42b6-94a3-d43ce8d16293 (Azure docs, "Azure built-in roles").
var logAnalyticsContributorRoleId = '92aaf0da-9dab-42b6-94a3-d43ce8d16293'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource logAnalyticsContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, logAnalyticsContributorRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsContributorRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor remediation (apply): send cluster audit logs to this workspace'
  }
}
