# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base of this collection's modules, in the manner of community.okd's AnsibleOpenshiftModule.

A module is a thin adapter: its argument spec, its documentation and one call, `CollectionModule(...).execute(work)`,
where `work(module)` lives in module_utils and returns the result. The base owns what every module would otherwise
redo:
- cluster access: with `cluster=True` the kubernetes.core connection options (`AUTH_ARG_SPEC`, so the module joins
  the `k8s` action group and AWX's OpenShift/Kubernetes credential) and a client made on first use by kubernetes.core's
  `get_api_client`; kubeconfig values are redacted by AnsibleK8SModule. A module that only sometimes needs the
  cluster (a file or a Secret; local or Job) asks for the `kubernetes` library only when it makes the client.
- check mode: that client does every write as a server-side dry run (`dryRun=All`) in check mode, so the API server
  validates what would be written and nothing is persisted; `work` decides `changed` from what it read, the same way
  in both modes.
- errors: a CollectionError becomes `fail_json` in one place (`errors.fail_with`); an API error that `work` did not
  turn into one is reported with its HTTP status and what to check.
"""

from __future__ import annotations

import copy

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError, fail_with

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
except ImportError:  # `client` reports the missing library through AnsibleK8SModule.requires
    CoreException = DynamicApiError = None
    NotFoundError = LookupError


def api_error_message(exc, action: str) -> str:
    """`cannot <action>: HTTP <status>: <reason>`, from what the client's exception says (never a request body)."""
    status = getattr(exc, "status", None)
    summary = getattr(exc, "summary", None)
    detail = summary() if callable(summary) else to_native(exc)
    return "cannot %s: %s%s" % (action, "HTTP %s: " % status if status else "", detail)


class CollectionModule(AnsibleK8SModule):
    """AnsibleK8SModule (argument checks, kubeconfig redaction, check mode, dependency checks) plus the client, the
    secrets to hide and the one error translation of this collection."""

    def __init__(self, argument_spec: dict, cluster: bool = False, **kwargs) -> None:
        spec = copy.deepcopy(AUTH_ARG_SPEC) if cluster else {}
        spec.update(argument_spec)
        super().__init__(argument_spec=spec, check_k8s=False, check_pyyaml=False, **kwargs)
        self._client = None

    @property
    def ansible(self):
        """The AnsibleModule itself, for its file helpers (backup_local, atomic_move) and run_command."""
        return self._module

    @property
    def client(self):
        """kubernetes.core's client for the connection options, made once; writes are dry runs in check mode."""
        if self._client is None:
            self.requires("kubernetes", "24.2.0")
            try:
                self._client = get_api_client(module=self)
            except CoreException as exc:
                raise CollectionError("cannot connect to the Kubernetes API: %s. Check kubeconfig/context (or "
                                      "host and api_key)." % to_native(exc)) from None
        return self._client

    def resource(self, kind: str, api_version: str):
        return self.client.resource(kind, api_version)

    def read(self, kind: str, api_version: str, name: str, namespace: str) -> dict:
        """The object as a dict, or {} when it does not exist (other API errors are raised)."""
        try:
            return self.client.get(self.resource(kind, api_version), name=name, namespace=namespace).to_dict()
        except NotFoundError:
            return {}

    def hide(self, *values) -> None:
        """Mask these values (a password, a Secret's data) in everything the module returns or logs."""
        self._module.no_log_values.update(value for value in values if value)

    def execute(self, work) -> None:
        """Run `work(self)`, warn its warnings and exit with its result; the one place a failure is reported."""
        try:
            result = work(self)
        except CollectionError as exc:
            fail_with(self, exc)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            if DynamicApiError is None or not isinstance(exc, (DynamicApiError, CoreException)):
                raise
            self.fail_json(msg="%s. Check that the namespace exists and that the account may do this (kubectl auth "
                               "can-i)." % api_error_message(exc, "complete the Kubernetes API call"))
        for warning in result.pop("warnings", None) or []:
            self.warn(warning)
        self.exit_json(**result)
