// Log Analytics workspace + workspace-based Application Insights for the function app.
// Local (instrumentation-key) auth is disabled: telemetry is sent with the app's managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING), which needs Monitoring Metrics Publisher on the component.

@description('Name of the Log Analytics workspace that stores the app telemetry.')
param logAnalyticsName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Tags applied to both resources.')
param tags object = {}

@description('Days the telemetry is kept (30 is included in the Log Analytics price).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Principal ID of the auditor identity (gets Monitoring Metrics Publisher to send telemetry).')
param principalId string

// Monitoring Metrics Publisher: 3913510d-42f4-4e42-8a64-420c390055eb (as in Azure-Samples
// azure-functions-flex-consumption-samples IaC/bicep/rbac.bicep; Entra-authenticated ingestion).
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisherRoleId)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: send telemetry to Application Insights with Entra ID (local auth is off)'
  }
}

@description('Connection string for APPLICATIONINSIGHTS_CONNECTION_STRING (not a secret: ingestion needs Entra auth).')
output connectionString string = appInsights.properties.ConnectionString

output applicationInsightsName string = appInsights.name
output workspaceId string = workspace.id
