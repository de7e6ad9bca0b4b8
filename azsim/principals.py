"""The simulated directory's principals (users, service principals, managed identities) and the claims
ARM reports for them in Event Grid events and the Activity Log.

Claim names and shapes follow what ARM writes (the Activity Log example of the Monitor REST spec,
GetActivityLogsFiltered.json, and the Event Grid system-event schema, whose `claims` is a map of
strings): v1 tokens name the object ID and the UPN by their URI forms
(`http://schemas.microsoft.com/identity/claims/objectidentifier`,
`http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn`); a user's token carries `name` and
`ipaddr`; an application's carries `appid`, `appidacr` and `idtyp` "app" and no UPN; a managed
identity's is an application's with `xms_mirid`, the identity's resource ID. The Activity Log's
`caller` is the UPN for a user and the application ID otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("user", "servicePrincipal", "managedIdentity")
AZURE_CLI_APP_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"  # the public client ID of the Azure CLI
_OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
_TENANT = "http://schemas.microsoft.com/identity/claims/tenantid"


@dataclass(frozen=True)
class SimPrincipal:
    """Someone or something that calls ARM; `object_id` is also the ID its tokens are issued to."""

    object_id: str
    kind: str
    name: str
    upn: str = ""  # users
    app_id: str = ""  # service principals and managed identities (users sign in through an app)
    mirid: str = ""  # managed identities: the identity's resource ID
    ip: str = "203.0.113.7"  # documentation range (RFC 5737)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")

    @property
    def caller(self) -> str:
        """The Activity Log's `caller` field."""
        return self.upn if self.kind == "user" else self.app_id

    def claims(self, tenant_id: str, audience: str) -> dict[str, str]:
        """The claims ARM reports for a request this principal made (every value a string)."""
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": "1764547200",
            "nbf": "1764547200",
            "exp": "1764551100",
            "ver": "1.0",
            _TENANT: tenant_id,
            _OID: self.object_id,
        }
        if self.kind == "user":
            given, _, family = self.name.partition(" ")
            claims.update(
                {
                    _UPN: self.upn,
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name": self.upn,
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname": given,
                    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname": family,
                    "name": self.name,
                    "ipaddr": self.ip,
                    "appid": self.app_id or AZURE_CLI_APP_ID,
                    "appidacr": "0",
                    "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
                    "http://schemas.microsoft.com/identity/claims/scope": "user_impersonation",
                }
            )
        else:
            claims.update(
                {
                    "appid": self.app_id,
                    "appidacr": "2" if self.kind == "managedIdentity" else "1",
                    "idtyp": "app",
                    "http://schemas.microsoft.com/identity/claims/identityprovider": f"https://sts.windows.net/{tenant_id}/",
                }
            )
            if self.kind == "managedIdentity":
                claims["xms_mirid"] = self.mirid
        return claims

    def http_request(self, method: str) -> dict[str, Any]:
        return {"clientRequestId": "", "clientIpAddress": self.ip, "method": method}


def user(object_id: str, name: str, upn: str, ip: str = "203.0.113.7") -> SimPrincipal:
    return SimPrincipal(object_id, "user", name, upn=upn, ip=ip)


def service_principal(object_id: str, name: str, app_id: str, ip: str = "198.51.100.20") -> SimPrincipal:
    return SimPrincipal(object_id, "servicePrincipal", name, app_id=app_id, ip=ip)


def managed_identity(object_id: str, app_id: str, mirid: str, ip: str = "198.51.100.40") -> SimPrincipal:
    return SimPrincipal(object_id, "managedIdentity", mirid.rsplit("/", 1)[-1], app_id=app_id, mirid=mirid, ip=ip)
