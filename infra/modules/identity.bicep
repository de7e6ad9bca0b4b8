// The auditor's user-assigned managed identity: the one principal every role below is given to.
// A user-assigned identity (not system-assigned) so the role assignments, the storage, Key Vault
// and topic grants exist before the function app does, and survive a re-created app.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource ID of the identity (for identity blocks and keyVaultReferenceIdentity).')
output id string = identity.id

@description('Client ID (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId).')
output clientId string = identity.properties.clientId

@description('Object (principal) ID, the subject of every role assignment.')
output principalId string = identity.properties.principalId

output name string = identity.name
