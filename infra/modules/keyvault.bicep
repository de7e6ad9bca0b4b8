// Key Vault (RBAC authorization, no access policies) for the auditor's two secrets: the Teams
// Workflows webhook URL (its signature is in the query string) and the SMTP password. The function
// app reads them through Key Vault references resolved with the auditor identity, which gets
// Key Vault Secrets User on this vault only.

@description('Name of the Key Vault (3-24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Azure region.')
param location string

@description('Tags applied to the vault.')
param tags object = {}

@description('Principal ID of the auditor identity (gets Key Vault Secrets User).')
param principalId string

@description('Teams Workflows webhook URL to store as a secret; empty stores nothing.')
@secure()
param teamsWebhookUrl string = ''

@description('SMTP password to store as a secret; empty stores nothing.')
@secure()
param smtpPassword string = ''

@description('Name of the secret that holds the Teams webhook URL.')
param teamsWebhookSecretName string = 'auditor-teams-webhook-url'

@description('Name of the secret that holds the SMTP password.')
param smtpPasswordSecretName string = 'auditor-smtp-password'

@description('Days a deleted vault or secret stays recoverable (7-90).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 7

// Key Vault Secrets User: 4633458b-17de-408a-b874-0445c86b69e6 (read secret values; Azure built-in roles,
// "Security" section; the role Key Vault references need in RBAC mode).
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: No VNet in this deployment: App Service resolves Key Vault references over the public endpoint, and App Service is not a trusted service for the firewall bypass. Access is RBAC-only: one identity may read secrets.
  // checkov:skip=CKV_AZURE_189: Same reason as CKV_AZURE_109: public network access is needed for Key Vault references without VNet integration.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource teamsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWebhookUrl)) {
  // checkov:skip=CKV_AZURE_41: A webhook URL has no natural expiry; an expiry date would silently stop the Teams notices. Rotate by setting a new version (docs/deploy.md).
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not look inside a conditional resource's body.
  parent: vault
  name: teamsWebhookSecretName
  properties: {
    value: teamsWebhookUrl
    contentType: 'text/uri'
  }
}

resource smtpSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smtpPassword)) {
  // checkov:skip=CKV_AZURE_41: The expiry follows the mail provider's password policy, not this template; an expiry here would silently stop the email notices.
  // checkov:skip=CKV_AZURE_114: contentType is set below; checkov does not look inside a conditional resource's body.
  parent: vault
  name: smtpPasswordSecretName
  properties: {
    value: smtpPassword
    contentType: 'text/plain'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, keyVaultSecretsUserRoleId)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'AKS auditor: resolve the Key Vault references of its app settings'
  }
}

output id string = vault.id
output name string = vault.name

@description('Versionless secret URI of the Teams webhook URL (a reference follows the latest version).')
output teamsWebhookReferenceUri string = '${vault.properties.vaultUri}secrets/${teamsWebhookSecretName}'

@description('Versionless secret URI of the SMTP password.')
output smtpLoginReferenceUri string = '${vault.properties.vaultUri}secrets/${smtpPasswordSecretName}'
