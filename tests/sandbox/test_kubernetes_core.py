"""The real kubernetes.core modules, run by ansible-playbook against the sandbox."""

from __future__ import annotations

import json

import yaml

from tests.sandbox.cluster import SandboxCluster

_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: {ns}, labels: {{app: web, tier: front}}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: app, image: "busybox:1.36", env: [{{name: A, value: "1"}}]}}]
"""


def test_k8s_present_apply_patched_absent_and_check_mode(cluster: SandboxCluster, namespace: str):
    definition = json.dumps(yaml.safe_load(_DEPLOYMENT.format(ns=namespace)))
    run = cluster.playbook(f"""\
        - name: Predict a create in check mode
          kubernetes.core.k8s:
            state: present
            definition: {definition}
          check_mode: true
          register: r_check
        - name: Read after check mode
          kubernetes.core.k8s_info: {{api_version: apps/v1, kind: Deployment, namespace: {namespace}, name: web}}
          register: r_after_check
        - name: Create and wait for availability
          kubernetes.core.k8s:
            state: present
            wait: true
            wait_condition: {{type: Available, status: "True"}}
            definition: {definition}
          register: r_create
        - name: The same again
          kubernetes.core.k8s:
            state: present
            definition: {definition}
          register: r_again
        - name: Apply (client-side, last-applied annotation)
          kubernetes.core.k8s:
            state: present
            apply: true
            definition: {definition}
          register: r_apply
        - name: Apply again
          kubernetes.core.k8s:
            state: present
            apply: true
            definition: {definition}
          register: r_apply_again
        - name: Patch one container's env (strategic merge keeps the list entries by name)
          kubernetes.core.k8s:
            state: patched
            api_version: apps/v1
            kind: Deployment
            namespace: {namespace}
            name: web
            definition:
              spec: {{template: {{spec: {{containers: [{{name: app, env: [{{name: B, value: "2"}}]}}]}}}}}}
          register: r_patched
        - name: Scale and wait
          kubernetes.core.k8s_scale:
            api_version: apps/v1
            kind: Deployment
            namespace: {namespace}
            name: web
            replicas: 3
            wait: true
          register: r_scale
        - name: Find it by labels
          kubernetes.core.k8s_info:
            api_version: apps/v1
            kind: Deployment
            namespace: {namespace}
            label_selectors: [app=web, "tier in (front,back)"]
          register: r_by_label
        - name: Find nothing with a selector that does not match
          kubernetes.core.k8s_info:
            api_version: apps/v1
            kind: Deployment
            namespace: {namespace}
            label_selectors: ["tier!=front"]
          register: r_no_match
        - name: Find it by field
          kubernetes.core.k8s_info:
            api_version: apps/v1
            kind: Deployment
            namespace: {namespace}
            field_selectors: [metadata.name=web]
          register: r_by_field
        - name: Delete in check mode
          kubernetes.core.k8s: {{state: absent, api_version: apps/v1, kind: Deployment, namespace: {namespace},
                                 name: web}}
          check_mode: true
          register: r_delete_check
        - name: Delete and wait
          kubernetes.core.k8s: {{state: absent, api_version: apps/v1, kind: Deployment, namespace: {namespace},
                                 name: web, wait: true}}
          register: r_delete
        - name: Delete again
          kubernetes.core.k8s: {{state: absent, api_version: apps/v1, kind: Deployment, namespace: {namespace},
                                 name: web}}
          register: r_delete_again
        """)
    assert run["r_check"]["changed"] is True
    assert run["r_after_check"]["resources"] == []
    assert run["r_create"]["changed"] is True
    assert run["r_create"]["result"]["status"]["availableReplicas"] == 1
    assert run["r_again"]["changed"] is False
    assert run["r_apply"]["changed"] is True  # the last-applied annotation is new
    assert run["r_apply_again"]["changed"] is False
    assert run["r_patched"]["changed"] is True
    env = run["r_patched"]["result"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert run["r_scale"]["changed"] is True
    assert [d["spec"]["replicas"] for d in run["r_by_label"]["resources"]] == [3]
    assert run["r_by_label"]["resources"][0]["status"]["readyReplicas"] == 3
    assert run["r_no_match"]["resources"] == []
    assert [d["metadata"]["name"] for d in run["r_by_field"]["resources"]] == ["web"]
    assert run["r_delete_check"]["changed"] is True
    assert run["r_delete"]["changed"] is True
    assert run["r_delete_again"]["changed"] is False
    assert cluster.kubectl("get", "deploy", "web", "-n", namespace, check=False).returncode != 0


def test_auth_from_environment_variables_as_awx_injects_them(cluster: SandboxCluster, namespace: str):
    """AWX's Kubernetes credential sets K8S_AUTH_HOST / K8S_AUTH_API_KEY / K8S_AUTH_VERIFY_SSL, no kubeconfig."""
    env = {"K8S_AUTH_KUBECONFIG": "", "KUBECONFIG": "", "K8S_AUTH_HOST": cluster.server,
           "K8S_AUTH_API_KEY": cluster.admin_token, "K8S_AUTH_VERIFY_SSL": "false"}  # a made-up token is a 401
    run = cluster.playbook(f"""\
        - name: Create a ConfigMap with host and token from the environment
          kubernetes.core.k8s:
            state: present
            definition:
              apiVersion: v1
              kind: ConfigMap
              metadata: {{name: from-awx, namespace: {namespace}}}
              data: {{a: "1"}}
          register: r_created
        """, env=env)
    assert run["r_created"]["changed"] is True
    assert cluster.get("configmap", "from-awx", "-n", namespace)["data"] == {"a": "1"}


def test_wait_condition_that_never_holds_fails_after_the_timeout(cluster: SandboxCluster, namespace: str):
    run = cluster.playbook(f"""\
        - name: Wait for a condition the Job will never have
          kubernetes.core.k8s:
            state: present
            wait: true
            wait_timeout: 3
            wait_condition: {{type: Failed, status: "True"}}
            definition:
              apiVersion: batch/v1
              kind: Job
              metadata: {{name: ok, namespace: {namespace}}}
              spec:
                template:
                  spec:
                    restartPolicy: Never
                    containers: [{{name: c, image: "busybox:1.36"}}]
          register: r_wait
          ignore_errors: true
        - name: The Job is complete
          kubernetes.core.k8s_info:
            api_version: batch/v1
            kind: Job
            namespace: {namespace}
            name: ok
            wait: true
            wait_condition: {{type: Complete, status: "True"}}
          register: r_complete
        """)
    assert run["r_wait"]["failed"] is True
    assert "Failed" in run["r_wait"]["msg"] or "timed out" in run["r_wait"]["msg"].lower()
    assert run["r_complete"]["resources"][0]["status"]["succeeded"] == 1
