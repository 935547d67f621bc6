# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A command in a pod's container over pods/exec (what `kubectl exec` and kubernetes.core.k8s_exec do), for the
modules that need one inside a longer piece of work (the WAL switch and its archiver wait, the restore's progress).

kubernetes.core.k8s_exec imports kubernetes.client.apis, which imports the whole generated client a second time
(about 1.5 s on a 2-core machine) before an exec of a few milliseconds; this imports only CoreV1Api.
"""

from __future__ import annotations

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError

try:
    from kubernetes.client.api.core_v1_api import CoreV1Api
    from kubernetes.stream import stream
except ImportError:  # the module reports the missing library when it makes the client
    CoreV1Api = stream = None


def core_api(module):
    """CoreV1Api on the module's own connection (kubeconfig, token, CA as the task gives them)."""
    return CoreV1Api(module.client.client.client)


def run(api, namespace: str, pod: str, container: str, command: list) -> str:
    """The command's standard output; a CollectionError with its error output when it fails."""
    resp = stream(api.connect_get_namespaced_pod_exec, pod, namespace, container=container, command=command,
                  stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False)
    stdout, stderr = [], []
    try:
        while resp.is_open():
            resp.update(timeout=1)
            if resp.peek_stdout():
                stdout.append(resp.read_stdout())
            if resp.peek_stderr():
                stderr.append(resp.read_stderr())
        status = resp.read_channel(3)
    finally:
        resp.close()
    if '"status":"Success"' not in status.replace(" ", ""):
        raise CollectionError("%s in %s/%s (container %s) failed: %s" % (
            command[0], namespace, pod, container, "".join(stderr).strip() or status.strip() or "no status"))
    return "".join(stdout)
