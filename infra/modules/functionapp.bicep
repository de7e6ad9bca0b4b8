// The Flex Consumption plan and the function app (Python on Linux) running function_app.py,
// with the auditor's user-assigned identity, identity-based AzureWebJobsStorage, Application Insights
// by connection string with Entra auth, Key Vault references resolved with the same identity, and
// every AUDITOR_* setting (passed in by main.bicep).
// Flex Consumption shape after Azure-Samples/azure-functions-flex-consumption-samples
// (IaC/bicep/core/host/function.bicep) and functions-quickstart-python-http-azd: runtime, scale and the
// deployment container live in functionAppConfig; FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_RUN_FROM_PACKAGE and WEBSITE_CONTENT* are deprecated on Flex and deliberately not set.

@description('Name of the function app (globally unique host name).')
param name string

@description('Name of the Flex Consumption plan (one app per plan).')
param planName string

@description('Azure region (must offer Flex Consumption: az functionapp list-flexconsumption-locations).')
param location string

@description('Tags applied to the plan and the app.')
param tags object = {}

@description('azd service name; azd finds the app to deploy by the azd-service-name tag.')
param serviceName string = 'auditor'

@description('Resource ID of the auditor user-assigned identity.')
param identityId string

@description('Client ID of the auditor user-assigned identity.')
param identityClientId string

@description('Name of the function storage account (AzureWebJobsStorage).')
param storageAccountName string

@description('Blob endpoint of that account, without trailing slash.')
param blobEndpoint string

@description('Queue endpoint of that account, without trailing slash.')
param queueEndpoint string

@description('Table endpoint of that account, without trailing slash.')
param tableEndpoint string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string.')
param appInsightsConnectionString string

@description('Upper bound of instances the app may scale out to (Flex Consumption: 1-1000).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Python version of the app (functionAppConfig.runtime.version); main.bicep allows the supported ones.')
param pythonVersion string

@description('The AUDITOR_* app settings (names and values; secrets as Key Vault references).')
param auditorSettings object

@description('Name of the Event Grid-triggered function in function_app.py.')
param eventFunctionName string = 'on_resource_event'

// Host settings: identity-based AzureWebJobsStorage (no account key anywhere), the user-assigned
// identity for every SDK client (DefaultAzureCredential reads AZURE_CLIENT_ID), and Application
// Insights ingestion authenticated with the same identity.
var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__blobServiceUri: blobEndpoint
  AzureWebJobsStorage__queueServiceUri: queueEndpoint
  AzureWebJobsStorage__tableServiceUri: tableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy is a paid always-ready option on Flex Consumption; a missed hourly scan is made up by the next one and ARM events are retried by Event Grid.
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
  // checkov:skip=CKV_AZURE_17: Event Grid delivers ARM events over HTTPS without a client certificate; the Event Grid webhook is authenticated by its system key.
  // checkov:skip=CKV_AZURE_222: Event Grid push delivery cannot reach a private endpoint, so the app keeps its public endpoint; it serves no HTTP function, only the key-protected Event Grid webhook.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero by itself; a minimum instance count (always-ready) would be billed around the clock for an hourly job.
  // checkov:skip=CKV_AZURE_213: No HTTP function to probe; the host reports health to Application Insights and the platform.
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
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
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      appSettings: [for setting in items(union(hostSettings, auditorSettings)): { name: setting.key, value: setting.value }]
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// No FTP and no basic-auth (publishing profile) deployments: azd and `func azure functionapp publish`
// deploy to Flex Consumption with an Entra token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName

@description('ARM ID of the Event Grid-triggered function (event subscription endpoint type AzureFunction).')
output eventFunctionResourceId string = '${site.id}/functions/${eventFunctionName}'
