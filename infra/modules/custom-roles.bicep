// The auditor's custom role definitions, each loaded from infra/roles/<name>.json: the same files the test
// suite's Azure simulation enforces (azsim/roles.py), so what is tested is what is deployed. Created in the
// home subscription, assignable in every subscription main.bicep assigns them in. Skipped with
// useBuiltInRoles (tenants whose policy forbids custom roles).
//
// A custom role is tenant-wide: its name (a GUID main.bicep derives, so assignments can name it before it
// exists) and its roleName must be unique in the tenant, hence the environment name in both. `type` is
// 'customRole' as in the Azure RBAC docs ("Create or update Azure custom roles using an ARM template").
targetScope = 'subscription'

@description('Role definition name (a GUID) per role key: reader, logReader, blobReader, remediator, workspaceLink.')
param roleIds object

@description('Appended to each role name so it is unique in the tenant (the environment name).')
param nameSuffix string

@description('Where the roles may be assigned: /subscriptions/<id> of every subscription an assignment is made in.')
param assignableScopes array

var definitions = {
  reader: loadJsonContent('../roles/auditor-reader.json')
  logReader: loadJsonContent('../roles/auditor-log-reader.json')
  blobReader: loadJsonContent('../roles/auditor-blob-reader.json')
  remediator: loadJsonContent('../roles/auditor-remediator.json')
  workspaceLink: loadJsonContent('../roles/auditor-workspace-link.json')
}

resource roles 'Microsoft.Authorization/roleDefinitions@2022-04-01' = [
  for role in items(definitions): {
    name: roleIds[role.key]
    properties: {
      roleName: '${role.value.roleName} (${nameSuffix})'
      description: role.value.description
      type: 'customRole'
      permissions: role.value.permissions
      assignableScopes: assignableScopes
    }
  }
]
