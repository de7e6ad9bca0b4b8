// Example parameters for infra/main.bicep. azd reads this file on `azd provision` / `azd up`; every
// value comes from the azd environment (`azd env set NAME value`) or the process environment, with the
// documented default when unset. By hand:
//   AZURE_ENV_NAME=aks-auditor AZURE_LOCATION=swedencentral az deployment sub create --name aks-auditor \
//     --location swedencentral --parameters infra/main.bicepparam
// The environment variables carry the app settings' own names (README, "Settings").
using 'main.bicep'

// No defaults: azd always sets both; by hand, export them (a missing one stops the build with its name).
param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param location = readEnvironmentVariable('AZURE_LOCATION')

// Comma-separated subscription IDs to audit; empty audits the deployment's own subscription.
param scannedSubscriptionIds = empty(readEnvironmentVariable('AUDITOR_SUBSCRIPTIONS', '')) ? [] : split(readEnvironmentVariable('AUDITOR_SUBSCRIPTIONS', ''), ',')

// true: the timer scans every subscription the identity can read (its read role at a management group).
param scanAllVisibleSubscriptions = bool(readEnvironmentVariable('AUDITOR_SCAN_ALL_VISIBLE_SUBSCRIPTIONS', 'false'))

// true: built-in roles (Reader, Monitoring Contributor, ...) instead of the custom ones of infra/roles/, for
// tenants whose policy forbids custom role definitions (docs/deploy.md, "What the identity may do").
param useBuiltInRoles = bool(readEnvironmentVariable('AUDITOR_USE_BUILT_IN_ROLES', 'false'))

// The Python the function app runs on: 3.11 (default), 3.12 or 3.13.
param pythonVersion = readEnvironmentVariable('AUDITOR_PYTHON_VERSION', '3.11')

// Set to true by the azd postdeploy hook once on_resource_event exists (two-phase deployment).
param deployEventSubscriptions = bool(readEnvironmentVariable('AUDITOR_EVENT_SUBSCRIPTIONS', 'false'))

// Subscriptions that already have a system topic for their ARM events, as JSON:
//   azd env set AUDITOR_EXISTING_SYSTEM_TOPICS '{"<subscription-id>":{"resourceGroup":"<rg>","name":"<topic>"}}'
param existingSystemTopics = json(readEnvironmentVariable('AUDITOR_EXISTING_SYSTEM_TOPICS', '{}'))

param scanSchedule = readEnvironmentVariable('AUDITOR_SCAN_SCHEDULE', '0 0 * * * *')
param profile = readEnvironmentVariable('AUDITOR_PROFILE', 'cis')
param requiredCategories = readEnvironmentVariable('AUDITOR_REQUIRED_CATEGORIES', '')
param acceptedDestinations = readEnvironmentVariable('AUDITOR_ACCEPTED_DESTINATIONS', 'workspace,storage,partner')
param allowedWorkspaces = readEnvironmentVariable('AUDITOR_ALLOWED_WORKSPACES', '')
param exemptTag = readEnvironmentVariable('AUDITOR_EXEMPT_TAG', 'aks-audit-exempt')
param createGraceSeconds = int(readEnvironmentVariable('AUDITOR_CREATE_GRACE_SECONDS', '900'))
param recheckSeconds = int(readEnvironmentVariable('AUDITOR_RECHECK_SECONDS', '30'))
param attribution = readEnvironmentVariable('AUDITOR_ATTRIBUTION', 'full')
param destinationCheck = readEnvironmentVariable('AUDITOR_DESTINATION_CHECK', 'lenient')
param minRetentionDays = int(readEnvironmentVariable('AUDITOR_MIN_RETENTION_DAYS', '0'))
param deliveryLookbackHours = int(readEnvironmentVariable('AUDITOR_DELIVERY_LOOKBACK_HOURS', '0'))
param logsEndpoint = readEnvironmentVariable('AUDITOR_LOGS_ENDPOINT', '')
// Not app settings: the destinations whose read roles the deployment grants (comma-separated resource IDs).
param verifiedWorkspaceIds = empty(readEnvironmentVariable('AUDITOR_VERIFIED_WORKSPACE_IDS', '')) ? [] : split(readEnvironmentVariable('AUDITOR_VERIFIED_WORKSPACE_IDS', ''), ',')
param verifiedStorageAccountIds = empty(readEnvironmentVariable('AUDITOR_VERIFIED_STORAGE_ACCOUNT_IDS', '')) ? [] : split(readEnvironmentVariable('AUDITOR_VERIFIED_STORAGE_ACCOUNT_IDS', ''), ',')
param renotifyHours = int(readEnvironmentVariable('AUDITOR_RENOTIFY_HOURS', '24'))

// Notifications. The webhook URL and the SMTP password go to Key Vault; the app gets references.
param teamsWebhookUrl = readEnvironmentVariable('AUDITOR_TEAMS_WEBHOOK_URL', '')
// true when the secret auditor-teams-webhook-url was set in the vault by hand (the URL never passes through ARM).
param teamsWebhookUrlInKeyVault = bool(readEnvironmentVariable('AUDITOR_TEAMS_WEBHOOK_URL_IN_KEY_VAULT', 'false'))
param smtpHost = readEnvironmentVariable('AUDITOR_SMTP_HOST', '')
param smtpPort = int(readEnvironmentVariable('AUDITOR_SMTP_PORT', '587'))
param smtpUsername = readEnvironmentVariable('AUDITOR_SMTP_USERNAME', '')
param smtpPassword = readEnvironmentVariable('AUDITOR_SMTP_PASSWORD', '')
param smtpPasswordInKeyVault = bool(readEnvironmentVariable('AUDITOR_SMTP_PASSWORD_IN_KEY_VAULT', 'false'))
param emailFrom = readEnvironmentVariable('AUDITOR_EMAIL_FROM', '')
param emailTo = readEnvironmentVariable('AUDITOR_EMAIL_TO', '')

// Remediation: off (default), dry-run, or apply (grants the remediation role on the remediated subscriptions
// and the workspace-link role on the workspace).
param remediationMode = readEnvironmentVariable('AUDITOR_REMEDIATION_MODE', 'off')
param remediationWorkspaceId = readEnvironmentVariable('AUDITOR_REMEDIATION_WORKSPACE_ID', '')
param remediationSettingName = readEnvironmentVariable('AUDITOR_REMEDIATION_SETTING_NAME', 'aks-audit-logs')
param remediationEditExisting = bool(readEnvironmentVariable('AUDITOR_REMEDIATION_EDIT_EXISTING', 'false'))
param remediationCooldownHours = int(readEnvironmentVariable('AUDITOR_REMEDIATION_COOLDOWN_HOURS', '24'))
param remediationSubscriptionIds = empty(readEnvironmentVariable('AUDITOR_REMEDIATION_SUBSCRIPTIONS', '')) ? [] : split(readEnvironmentVariable('AUDITOR_REMEDIATION_SUBSCRIPTIONS', ''), ',')
