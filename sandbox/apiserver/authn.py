"""Authentication: who sends a request, from its bearer token, as kube-apiserver's authenticators decide it.

- The kubeconfig's user (`ADMIN_TOKEN`, written by `sandbox up`) is `sandbox-admin` in `system:masters`: a cluster
  admin, as the admin credential of a kubeadm or kind cluster is.
- ServiceAccount tokens are JWTs issued through TokenRequest (`kubectl create token`), bound to the account's uid:
  they stop working when it is deleted, when they expire, or when they were issued for another audience
  (kubernetes pkg/serviceaccount/jwt.go and claims.go). They are signed with HS256 and a key of this server
  (kube-apiserver signs RS256 with --service-account-signing-key-file); clients never look inside.
- No `Authorization` header: on the TLS port, `system:anonymous` in `system:unauthenticated` (--anonymous-auth
  defaults to true). On the plain HTTP port, the kubeconfig's user: Go clients (kubectl, Helm) never send a
  kubeconfig's credentials over plain HTTP (client-go's clientcmd applies them to TLS servers only).
- Any other token: 401 `Unauthorized` (staging/src/k8s.io/apiserver/pkg/endpoints/filters/authentication.go).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import errors

ADMIN_TOKEN = "sandbox-admin-token-0000000000000000"
# --service-account-issuer / --api-audiences of a kubeadm cluster.
ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)
# kube-apiserver's default and minimum TokenRequest durations (pkg/registry/core/serviceaccount/storage/token.go,
# pkg/apis/authentication/validation).
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
MASTERS = "system:masters"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
_SERVICE_ACCOUNTS_KEY = ("", "serviceaccounts")


@dataclass(frozen=True)
class Identity:
    """user.Info: name, uid, groups and extra, as the authorizers and SelfSubjectReview see them."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def user_info(self) -> dict[str, Any]:
        """authentication.k8s.io/v1 UserInfo."""
        info: dict[str, Any] = {"username": self.name}
        if self.uid:
            info["uid"] = self.uid
        if self.groups:
            info["groups"] = list(self.groups)
        if self.extra:
            info["extra"] = {key: list(values) for key, values in self.extra}
        return info


ADMIN = Identity("sandbox-admin", (MASTERS, AUTHENTICATED))
ANONYMOUS = Identity("system:anonymous", (UNAUTHENTICATED,))


def service_account_identity(namespace: str, name: str, uid: str = "", credential_id: str = "") -> Identity:
    """The user a ServiceAccount token authenticates as (staging/src/k8s.io/apiserver/pkg/authentication/
    serviceaccount/util.go: UserInfo and MakeGroupNames)."""
    extra = (("authentication.kubernetes.io/credential-id", (credential_id,)),) if credential_id else ()
    return Identity(f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}",
                    ("system:serviceaccounts", f"system:serviceaccounts:{namespace}", AUTHENTICATED), uid, extra)


def controller_identity(controller: str) -> Identity:
    """Who an in-process controller acts as: the operator's ServiceAccount for the CNPG and plugin controllers,
    the node for the kubelet, else kube-controller-manager's per-controller account - each also in
    `system:masters` (cluster-admin-like: the sandbox's controllers do the work of several real ones)."""
    if controller.startswith("cnpg-"):
        account = ("cnpg-system", "cnpg-manager")
    elif controller.startswith("barman-cloud"):
        account = ("cnpg-system", "plugin-barman-cloud")
    elif controller == "kubelet":
        return Identity("system:node:sandbox", ("system:nodes", MASTERS, AUTHENTICATED))
    else:
        account = ("kube-system", controller)
    base = service_account_identity(*account)
    return Identity(base.name, (*base.groups, MASTERS))


def unauthorized() -> errors.ApiError:
    return errors.ApiError(401, "Unauthorized", "Unauthorized")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(path: Path | None) -> bytes:
    """A fresh key, or the one kept at `path` (so tokens outlive a restart with --persist, as on a cluster)."""
    if path is not None and path.is_file():
        return path.read_bytes()
    key = secrets.token_bytes(32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
    return key


class Authenticator:
    """Maps a request's `Authorization` header to an Identity; issues ServiceAccount tokens."""

    def __init__(self, store: Any, key: bytes):
        self._store = store
        self._key = key

    def authenticate(self, authorization: str | None, unauthenticated: Identity = ANONYMOUS) -> Identity:
        """The caller; `unauthenticated` when the request carries no credentials."""
        if not authorization:
            return unauthenticated
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        if hmac.compare_digest(token, ADMIN_TOKEN):
            return ADMIN
        identity = self._service_account(token)
        if identity is None:
            raise unauthorized()
        return identity

    # --- ServiceAccount tokens --------------------------------------------------------------------------------

    def issue(self, account: dict[str, Any], audiences: list[str], expiration: int) -> tuple[str, int]:
        """A token for `account` (a stored ServiceAccount) and its expiry as a Unix time."""
        issued = int(time.time())
        meta = account["metadata"]
        claims = {
            "aud": audiences, "exp": issued + expiration, "iat": issued, "nbf": issued, "iss": ISSUER,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": {"namespace": meta["namespace"],
                              "serviceaccount": {"name": meta["name"], "uid": meta["uid"]}},
            "sub": f"{SERVICE_ACCOUNT_PREFIX}{meta['namespace']}:{meta['name']}",
        }
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{header}.{payload}.{self._sign(header, payload)}", claims["exp"]

    def _sign(self, header: str, payload: str) -> str:
        return _b64(hmac.new(self._key, f"{header}.{payload}".encode(), hashlib.sha256).digest())

    def _service_account(self, token: str) -> Identity | None:
        parts = token.split(".")
        if len(parts) != 3 or not hmac.compare_digest(parts[2], self._sign(parts[0], parts[1])):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
            bound = claims["kubernetes.io"]
            namespace, name, uid = bound["namespace"], bound["serviceaccount"]["name"], \
                bound["serviceaccount"]["uid"]
        except (ValueError, KeyError, TypeError):
            return None
        now = time.time()
        if claims.get("iss") != ISSUER or not set(claims.get("aud") or ()) & set(API_AUDIENCES):
            return None
        if not claims.get("nbf", 0) - 60 <= now < claims.get("exp", 0):
            return None
        # The bound-token validator: the account must still exist, with the uid the token was issued for.
        account = self._store.get(_SERVICE_ACCOUNTS_KEY, namespace, name)
        if account is None or account["metadata"].get("uid") != uid:
            return None
        return service_account_identity(namespace, name, uid, f"JTI={claims.get('jti', '')}")
