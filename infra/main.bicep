// AKS audit-log auditor (CIS AKS 2.1.1 / Kubescape C-0254): one deployment for the whole thing.
//
// Deployed at subscription scope (the azd convention) into the "home" subscription:
//   rg-<env>            identity, storage, monitoring, Key Vault, findings topic, function app
// and, in every scanned subscription (the home one included when it is scanned):
//   rg-<env>-events     the Event Grid system topic for the subscription's ARM events (+ event subscription)
//   role assignments    the auditor's read role (always), its audit-record read role (delivery checks only),
//                       its remediation role (remediation apply only)
// plus the workspace-link role on the remediation workspace (remediation apply only), and read roles on the
// verified destinations. The roles are the custom ones of infra/roles/ (created in the home subscription,
// modules/custom-roles.bicep) with exactly the operations the auditor performs; useBuiltInRoles swaps in
// Reader, Monitoring Contributor, Log Analytics Reader/Contributor and Storage Blob Data Reader.
//
// Two-phase by necessity: an event subscription of endpoint type AzureFunction is validated against the
// deployed function, which exists only after the code is published. `azd up` runs the second phase
// itself (azure.yaml postdeploy hook); by hand, deploy again with deployEventSubscriptions=true.
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------
// Where and what
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(40)
@description('Environment name (azd AZURE_ENV_NAME): names the resource groups and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Region of the auditor resources (one that offers Flex Consumption: az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group for the auditor resources in this subscription. Default: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Resource group created in each scanned subscription for its Event Grid system topic. Default: rg-<environmentName>-events.')
param eventsResourceGroupName string = ''

@description('Subscriptions to audit (IDs). Empty means only the subscription this deployment runs in. Each gets the auditor\'s read role and a system topic for its ARM events; the list becomes AUDITOR_SUBSCRIPTIONS.')
param scannedSubscriptionIds array = []

@description('Leave AUDITOR_SUBSCRIPTIONS empty so the timer scans every subscription the identity can read (for a read role granted at a management group). Event coverage still needs each subscription in scannedSubscriptionIds.')
param scanAllVisibleSubscriptions bool = false

@description('Subscriptions that already have an Event Grid system topic for their ARM events (Azure allows one per subscription), keyed by subscription ID: { "<id>": { "resourceGroup": "<rg>", "name": "<topic>" } }. The auditor adds its event subscription to that topic instead of creating one.')
param existingSystemTopics object = {}

@description('Connect the ARM events to the on_resource_event function. Needs the code deployed first: false on the first provision, true afterwards (the azd postdeploy hook sets it).')
param deployEventSubscriptions bool = false

@description('Event Grid delivery attempts before an ARM event is dead-lettered (1-30).')
@minValue(1)
@maxValue(30)
param eventMaxDeliveryAttempts int = 30

@description('Minutes Event Grid retries an ARM event before dead-lettering it (1-1440).')
@minValue(1)
@maxValue(1440)
param eventTimeToLiveInMinutes int = 1440

@description('Storage account for dead-lettered ARM events. Empty: a container in the auditor\'s own storage account.')
param deadLetterStorageAccountId string = ''

@description('Upper bound of function instances (Flex Consumption, 1-1000).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per function instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Python version the function app runs on (Flex Consumption): one of those the auditor is tested on.')
@allowed([
  '3.11'
  '3.12'
  '3.13'
])
param pythonVersion string = '3.11'

@description('Days the auditor\'s own telemetry is kept in Log Analytics.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Tags added to every resource (azd-env-name is always set).')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// The auditor's settings (README "Settings"); defaults are the documented ones.
// ---------------------------------------------------------------------------------------------

@description('AUDITOR_SCAN_SCHEDULE: NCRONTAB schedule of the full scan (hourly).')
param scanSchedule string = '0 0 * * * *'

@description('AUDITOR_PROFILE: which categories the control requires: cis (kube-audit, kube-audit-admin) or cost-aware (kube-audit-admin, guard).')
@allowed([
  'cis'
  'cost-aware'
])
param profile string = 'cis'

@description('AUDITOR_REQUIRED_CATEGORIES: log categories every cluster must export; empty means those of the profile.')
param requiredCategories string = ''

@description('AUDITOR_ACCEPTED_DESTINATIONS: sinks that count (add eventhub to accept Event Hubs).')
param acceptedDestinations string = 'workspace,storage,partner'

@description('AUDITOR_ALLOWED_WORKSPACES: comma-separated workspace IDs; when set, only these workspaces count.')
param allowedWorkspaces string = ''

@description('AUDITOR_DESTINATION_CHECK: off, lenient (a destination that cannot be read is noted) or strict (it makes the cluster error).')
@allowed([
  'off'
  'lenient'
  'strict'
])
param destinationCheck string = 'lenient'

@description('AUDITOR_MIN_RETENTION_DAYS: minimum days a destination must keep the audit logs (0 = not checked).')
@minValue(0)
@maxValue(36500)
param minRetentionDays int = 0

@description('AUDITOR_DELIVERY_LOOKBACK_HOURS: a configured cluster with no audit record this recent fails (0 = not checked).')
@minValue(0)
@maxValue(2160)
param deliveryLookbackHours int = 0

@description('AUDITOR_LOGS_ENDPOINT: the Log Analytics query API; empty means the cloud\'s own.')
param logsEndpoint string = ''

@description('Workspaces (resource IDs) that receive the clusters\' audit logs: the identity gets its read role on each (and, with delivery checks, its audit-record read role), to verify them where its roles on the scanned subscriptions do not reach, such as a central security workspace.')
param verifiedWorkspaceIds array = []

@description('Storage accounts (resource IDs) that receive the clusters\' audit logs: the identity gets its read role on each (existence, lifecycle policy) and, when delivery checks are on, its blob read role (the insights-logs-* blobs).')
param verifiedStorageAccountIds array = []

@description('AUDITOR_EXEMPT_TAG: tag whose value true or a future YYYY-MM-DD exempts a cluster.')
param exemptTag string = 'aks-audit-exempt'

@description('AUDITOR_CLOUD: AzurePublicCloud, AzureUSGovernment or AzureChinaCloud. Empty: the cloud this deployment runs in.')
@allowed([
  ''
  'AzurePublicCloud'
  'AzureUSGovernment'
  'AzureChinaCloud'
])
param auditorCloud string = ''

@description('AUDITOR_ARM_ENDPOINT: override of the ARM endpoint (Azure Stack Hub); empty for the cloud\'s own.')
param armEndpoint string = ''

@description('AUDITOR_ARM_AUDIENCE: token audience for an overridden ARM endpoint.')
param armAudience string = ''

@description('AUDITOR_MAX_CONCURRENCY: ARM calls in flight at once (1-512).')
@minValue(1)
@maxValue(512)
param maxConcurrency int = 32

@description('AUDITOR_HTTP_TIMEOUT_SECONDS: per attempt of each ARM call.')
@minValue(1)
param httpTimeoutSeconds int = 20

@description('AUDITOR_MAX_RETRY_AFTER_SECONDS: the longest wait before a retry, whatever a service\'s Retry-After asks (0-3600).')
@minValue(0)
@maxValue(3600)
param maxRetryAfterSeconds int = 60

@description('AUDITOR_SCAN_DEADLINE_SECONDS: a scan judges no cluster after this; below host.json functionTimeout (30 min) so the report still goes out.')
@minValue(1)
@maxValue(1700)
param scanDeadlineSeconds int = 1500

@description('AUDITOR_BLOB_ENDPOINT_HOSTS: where storage accounts\' blob endpoints may be (host, *.domain or host:port); empty means the cloud\'s own.')
param blobEndpointHosts string = ''

@description('AUDITOR_CREATE_GRACE_SECONDS: wait after a cluster write before checking it (0-604800).')
@minValue(0)
@maxValue(604800)
param createGraceSeconds int = 900

@description('AUDITOR_RECHECK_SECONDS: wait before reading a cluster again when its first read contradicts the drift event (ARM reads can lag a change).')
@minValue(0)
@maxValue(3600)
param recheckSeconds int = 30

@description('AUDITOR_ATTRIBUTION: who changed a failing cluster, in every channel: full, id (object and app IDs only: no names, no IP addresses) or off (nothing, no Activity Log lookup).')
@allowed([
  'full'
  'id'
  'off'
])
param attribution string = 'full'

@description('AUDITOR_FANOUT_MIN_SUBSCRIPTIONS: from this many subscriptions up, the timer fans out one queue message per subscription.')
@minValue(1)
param fanoutMinSubscriptions int = 20

@description('AUDITOR_WEBHOOK_ALLOWED_HOSTS: hosts outbound webhooks and topics may use.')
param webhookAllowedHosts string = '*.webhook.office.com,*.logic.azure.com,*.powerplatform.com,*.eventgrid.azure.net'

@description('AUDITOR_RENOTIFY_HOURS: reminder interval for a cluster that keeps failing.')
@minValue(1)
param renotifyHours int = 24

@secure()
@description('AUDITOR_TEAMS_WEBHOOK_URL: Teams Workflows webhook URL. Stored in Key Vault; the app setting is a Key Vault reference. Empty: no Teams (unless teamsWebhookUrlInKeyVault).')
param teamsWebhookUrl string = ''

@description('The Teams webhook URL was put into the Key Vault by hand (secret auditor-teams-webhook-url): reference it without passing it through the deployment.')
param teamsWebhookUrlInKeyVault bool = false

@description('AUDITOR_SMTP_HOST: SMTP server; empty turns email off.')
param smtpHost string = ''

@description('AUDITOR_SMTP_PORT: 587 (STARTTLS) or 465 (implicit TLS).')
param smtpPort int = 587

@description('AUDITOR_SMTP_USERNAME: SMTP login.')
param smtpUsername string = ''

@secure()
@description('AUDITOR_SMTP_PASSWORD: stored in Key Vault; the app setting is a Key Vault reference.')
param smtpPassword string = ''

@description('The SMTP password was put into the Key Vault by hand (secret auditor-smtp-password).')
param smtpPasswordInKeyVault bool = false

@description('AUDITOR_SMTP_STARTTLS: STARTTLS before login.')
param smtpStartTls bool = true

@description('AUDITOR_EMAIL_FROM: sender address.')
param emailFrom string = ''

@description('AUDITOR_EMAIL_TO: comma-separated recipients.')
param emailTo string = ''

@description('AUDITOR_REMEDIATION_MODE: off, dry-run (plan only, read-only) or apply (writes; grants the remediation role and the workspace-link role).')
@allowed([
  'off'
  'dry-run'
  'apply'
])
param remediationMode string = 'off'

@description('AUDITOR_REMEDIATION_WORKSPACE_ID: resource ID of the Log Analytics workspace remediated audit logs go to (required unless off).')
param remediationWorkspaceId string = ''

@description('AUDITOR_REMEDIATION_SETTING_NAME: name of the auditor\'s own diagnostic setting.')
param remediationSettingName string = 'aks-audit-logs'

@description('AUDITOR_REMEDIATION_SUBSCRIPTIONS: subscriptions remediation may touch (and that get the remediation role); empty means every scanned one.')
param remediationSubscriptionIds array = []

@description('AUDITOR_REMEDIATION_EDIT_EXISTING: may remediation enable categories in a diagnostic setting the auditor does not own (one usually declared in infrastructure-as-code)?')
param remediationEditExisting bool = false

@description('AUDITOR_REMEDIATION_COOLDOWN_HOURS: a fix undone within this many hours is not written again in that window (0 = never hold back).')
@minValue(0)
@maxValue(8760)
param remediationCooldownHours int = 24

@description('Grant built-in roles (Reader, Monitoring Contributor, Log Analytics Reader and Contributor, Storage Blob Data Reader) instead of the auditor\'s custom roles, for tenants whose policy forbids custom role definitions. They allow far more than the auditor does (docs/deploy.md).')
param useBuiltInRoles bool = false

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var allTags = union(tags, {
  'azd-env-name': environmentName
})
var mainResourceGroupName = empty(resourceGroupName) ? 'rg-${environmentName}' : resourceGroupName
var eventsGroupName = empty(eventsResourceGroupName) ? 'rg-${environmentName}-events' : eventsResourceGroupName
var functionAppName = 'func-aks-auditor-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var deadLetterContainerName = 'eventgrid-deadletter'
var systemTopicName = 'evgt-aks-auditor-arm-${resourceToken}'
var scanned = empty(scannedSubscriptionIds) ? [subscription().subscriptionId] : scannedSubscriptionIds
var remediationApply = remediationMode == 'apply'
var deploymentCloud = environment().name
var cloudName = empty(auditorCloud) ? ((deploymentCloud == 'AzureCloud') ? 'AzurePublicCloud' : deploymentCloud) : auditorCloud
// The workspace's subscription, group and name; a placeholder ID keeps the expressions valid when it is unset
// (ARM still evaluates the scope of a module whose condition is false).
var unsetWorkspaceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/unset/providers/Microsoft.OperationalInsights/workspaces/unset'
var workspaceIdParts = split(empty(remediationWorkspaceId) ? unsetWorkspaceId : remediationWorkspaceId, '/')

// Names function_app.py uses (a test keeps them equal to the decorators).
var queueNames = [
  'aks-audit-checks'
  'aks-audit-checks-poison'
  'aks-audit-scans'
  'aks-audit-scans-poison'
]
var tableNames = [
  'auditorevents'
  'auditorfindings'
  'auditorremediations'
]
var eventFunctionName = 'on_resource_event'

// ---------------------------------------------------------------------------------------------
// Roles: the auditor's custom ones (infra/roles/*.json), or built-in ones that include the same operations
// ---------------------------------------------------------------------------------------------

// Built-in role definition IDs (Azure docs, "Azure built-in roles"). Reader's */read includes the Log Analytics
// query actions, and Log Analytics Reader is both read roles on a workspace; an assignment whose role is the
// read role already granted there is skipped.
var builtInRoleIds = {
  reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader
  workspaceReader: '73c42c96-874c-492b-b04d-ab87d138a893' // Log Analytics Reader
  logReader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7' // Reader
  workspaceLogReader: '73c42c96-874c-492b-b04d-ab87d138a893' // Log Analytics Reader
  blobReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' // Storage Blob Data Reader
  remediator: '749f88d5-cbae-40b8-bcfc-e573ddc772fa' // Monitoring Contributor
  workspaceLink: '92aaf0da-9dab-42b6-94a3-d43ce8d16293' // Log Analytics Contributor
}
// Custom role definition names: GUIDs fixed by the home subscription and the environment, so every assignment
// names its role before modules/custom-roles.bicep has created it.
var customRoleIds = {
  reader: guid(subscription().id, environmentName, 'auditor-reader')
  logReader: guid(subscription().id, environmentName, 'auditor-log-reader')
  blobReader: guid(subscription().id, environmentName, 'auditor-blob-reader')
  remediator: guid(subscription().id, environmentName, 'auditor-remediator')
  workspaceLink: guid(subscription().id, environmentName, 'auditor-workspace-link')
}
var roleIds = useBuiltInRoles ? builtInRoleIds : union(customRoleIds, {
  workspaceReader: customRoleIds.reader
  workspaceLogReader: customRoleIds.logReader
})
var readRecords = deliveryLookbackHours > 0
var verifiedDestinations = concat(verifiedWorkspaceIds, verifiedStorageAccountIds)
// Every subscription a role is assigned in: a custom role must list it among its assignable scopes.
var verifiedSubscriptions = [for id in verifiedDestinations: split(id, '/')[2]]
var remediationWorkspaceSubscription = remediationApply && !empty(remediationWorkspaceId) ? [workspaceIdParts[2]] : []
var assignedSubscriptions = concat(scanned, verifiedSubscriptions, remediationWorkspaceSubscription)
var assignedScopes = [for id in assignedSubscriptions: '/subscriptions/${toLower(id)}']
var assignableScopes = union(assignedScopes, []) // each once

module customRoles 'modules/custom-roles.bicep' = if (!useBuiltInRoles) {
  name: 'aks-auditor-custom-roles'
  params: {
    roleIds: customRoleIds
    nameSuffix: environmentName
    assignableScopes: assignableScopes
  }
}

// ---------------------------------------------------------------------------------------------
// Home resource group
// ---------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: mainResourceGroupName
  location: location
  tags: allTags
}

module identity 'modules/identity.bicep' = {
  name: 'auditor-identity'
  scope: rg
  params: {
    name: 'id-aks-auditor-${resourceToken}'
    location: location
    tags: allTags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'auditor-monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-aks-auditor-${resourceToken}'
    applicationInsightsName: 'appi-aks-auditor-${resourceToken}'
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
    principalId: identity.outputs.principalId
  }
}

module storage 'modules/storage.bicep' = {
  name: 'auditor-storage'
  scope: rg
  params: {
    name: 'staksaudit${resourceToken}'
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    queueNames: queueNames
    tableNames: tableNames
    principalId: identity.outputs.principalId
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'auditor-keyvault'
  scope: rg
  params: {
    name: 'kv-auditor-${resourceToken}'
    location: location
    tags: allTags
    principalId: identity.outputs.principalId
    teamsWebhookUrl: teamsWebhookUrl
    smtpPassword: smtpPassword
  }
}

module findingsTopic 'modules/findings-topic.bicep' = {
  name: 'auditor-findings-topic'
  scope: rg
  params: {
    name: 'evgt-aks-audit-findings-${resourceToken}'
    location: location
    tags: allTags
    principalId: identity.outputs.principalId
  }
}

var teamsConfigured = teamsWebhookUrlInKeyVault || !empty(teamsWebhookUrl)
var smtpPasswordConfigured = smtpPasswordInKeyVault || !empty(smtpPassword)

// Every AUDITOR_* setting of local.settings.sample.json. Secrets are Key Vault references; the topic is
// reached with the identity (EventGrid Data Sender), so the topic key stays empty.
var auditorSettings = {
  AUDITOR_SCAN_SCHEDULE: scanSchedule
  AUDITOR_SUBSCRIPTIONS: scanAllVisibleSubscriptions ? '' : join(scanned, ',')
  AUDITOR_PROFILE: profile
  AUDITOR_DESTINATION_CHECK: destinationCheck
  AUDITOR_MIN_RETENTION_DAYS: string(minRetentionDays)
  AUDITOR_DELIVERY_LOOKBACK_HOURS: string(deliveryLookbackHours)
  AUDITOR_LOGS_ENDPOINT: logsEndpoint
  AUDITOR_REQUIRED_CATEGORIES: requiredCategories
  AUDITOR_ACCEPTED_DESTINATIONS: acceptedDestinations
  AUDITOR_ALLOWED_WORKSPACES: allowedWorkspaces
  AUDITOR_EXEMPT_TAG: exemptTag
  AUDITOR_CLOUD: cloudName
  AUDITOR_ARM_ENDPOINT: armEndpoint
  AUDITOR_ARM_AUDIENCE: armAudience
  AUDITOR_MAX_CONCURRENCY: string(maxConcurrency)
  AUDITOR_HTTP_TIMEOUT_SECONDS: string(httpTimeoutSeconds)
  AUDITOR_MAX_RETRY_AFTER_SECONDS: string(maxRetryAfterSeconds)
  AUDITOR_SCAN_DEADLINE_SECONDS: string(scanDeadlineSeconds)
  AUDITOR_BLOB_ENDPOINT_HOSTS: blobEndpointHosts
  AUDITOR_CREATE_GRACE_SECONDS: string(createGraceSeconds)
  AUDITOR_RECHECK_SECONDS: string(recheckSeconds)
  AUDITOR_ATTRIBUTION: attribution
  AUDITOR_FANOUT_MIN_SUBSCRIPTIONS: string(fanoutMinSubscriptions)
  AUDITOR_EVENTGRID_TOPIC_ENDPOINT: findingsTopic.outputs.endpoint
  AUDITOR_EVENTGRID_TOPIC_KEY: ''
  AUDITOR_TEAMS_WEBHOOK_URL: teamsConfigured ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.teamsWebhookReferenceUri})' : ''
  AUDITOR_WEBHOOK_ALLOWED_HOSTS: webhookAllowedHosts
  AUDITOR_RENOTIFY_HOURS: string(renotifyHours)
  AUDITOR_SMTP_HOST: smtpHost
  AUDITOR_SMTP_PORT: string(smtpPort)
  AUDITOR_SMTP_USERNAME: smtpUsername
  AUDITOR_SMTP_PASSWORD: smtpPasswordConfigured ? '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.smtpLoginReferenceUri})' : ''
  AUDITOR_SMTP_STARTTLS: smtpStartTls ? 'true' : 'false'
  AUDITOR_EMAIL_FROM: emailFrom
  AUDITOR_EMAIL_TO: emailTo
  AUDITOR_REMEDIATION_MODE: remediationMode
  AUDITOR_REMEDIATION_WORKSPACE_ID: remediationWorkspaceId
  AUDITOR_REMEDIATION_SETTING_NAME: remediationSettingName
  AUDITOR_REMEDIATION_SUBSCRIPTIONS: join(remediationSubscriptionIds, ',')
  AUDITOR_REMEDIATION_EDIT_EXISTING: remediationEditExisting ? 'true' : 'false'
  AUDITOR_REMEDIATION_COOLDOWN_HOURS: string(remediationCooldownHours)
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'auditor-functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-aks-auditor-${resourceToken}'
    location: location
    tags: allTags
    serviceName: 'auditor'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    pythonVersion: pythonVersion
    auditorSettings: auditorSettings
    eventFunctionName: eventFunctionName
  }
}

// ---------------------------------------------------------------------------------------------
// Every scanned subscription: the read roles, its system topic + event subscription, remediation role
// ---------------------------------------------------------------------------------------------

module scannedSubscriptions 'modules/scanned-subscription.bicep' = [
  for subscriptionId in scanned: {
    name: 'aks-auditor-sub-${uniqueString(subscriptionId, environmentName)}'
    scope: subscription(subscriptionId)
    dependsOn: [
      customRoles
    ]
    params: {
      resourceGroupName: contains(existingSystemTopics, subscriptionId) ? existingSystemTopics[subscriptionId].resourceGroup : eventsGroupName
      createResourceGroup: !contains(existingSystemTopics, subscriptionId)
      location: location
      tags: allTags
      systemTopicName: contains(existingSystemTopics, subscriptionId) ? existingSystemTopics[subscriptionId].name : systemTopicName
      principalId: identity.outputs.principalId
      readerRoleId: roleIds.reader
      logReaderRoleId: roleIds.logReader
      remediatorRoleId: roleIds.remediator
      readRecords: readRecords
      grantRemediationRoles: remediationApply && (empty(remediationSubscriptionIds) || contains(remediationSubscriptionIds, subscriptionId))
      deployEventSubscription: deployEventSubscriptions
      functionResourceId: functionApp.outputs.eventFunctionResourceId
      deadLetterStorageAccountId: empty(deadLetterStorageAccountId) ? storage.outputs.id : deadLetterStorageAccountId
      deadLetterContainerName: deadLetterContainerName
      maxDeliveryAttempts: eventMaxDeliveryAttempts
      eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
    }
  }
]

// The workspace-link role on the remediation workspace (its own subscription and resource group).
module workspaceRoles 'modules/workspace-roles.bicep' = if (remediationApply && !empty(remediationWorkspaceId)) {
  name: 'aks-auditor-workspace-roles'
  scope: resourceGroup(workspaceIdParts[2], workspaceIdParts[4])
  dependsOn: [
    customRoles
  ]
  params: {
    workspaceName: last(workspaceIdParts)
    principalId: identity.outputs.principalId
    workspaceLinkRoleId: roleIds.workspaceLink
  }
}

// Read access on the destinations the auditor verifies (each in its own subscription and resource group): the
// read role, plus the record-reading roles only when delivery checks query workspaces and list blobs.
module destinationReaders 'modules/destination-reader.bicep' = [
  for (destinationId, index) in verifiedDestinations: {
    name: 'aks-auditor-destination-${index}'
    scope: resourceGroup(split(destinationId, '/')[2], split(destinationId, '/')[4])
    dependsOn: [
      customRoles
    ]
    params: {
      destinationId: destinationId
      principalId: identity.outputs.principalId
      workspaceReaderRoleId: roleIds.workspaceReader
      storageReaderRoleId: roleIds.reader
      logReaderRoleId: roleIds.workspaceLogReader
      blobReaderRoleId: roleIds.blobReader
      readRecords: readRecords
    }
  }
]

// ---------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment; docs/deploy.md uses them)
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
@description('Name of the function app.')
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
@description('Endpoint of the findings topic (CloudEvents 1.0).')
output FINDINGS_TOPIC_ENDPOINT string = findingsTopic.outputs.endpoint
output FINDINGS_TOPIC_ID string = findingsTopic.outputs.id
@description('Container that receives ARM events Event Grid could not deliver.')
output DEAD_LETTER_CONTAINER string = deadLetterContainerName
output DEAD_LETTER_STORAGE_ACCOUNT_ID string = empty(deadLetterStorageAccountId) ? storage.outputs.id : deadLetterStorageAccountId
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output KEY_VAULT_NAME string = keyVault.outputs.name
output APPLICATION_INSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AUDITOR_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AUDITOR_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output SCANNED_SUBSCRIPTIONS string = join(scanned, ',')
output EVENTS_RESOURCE_GROUP string = eventsGroupName
