"""Named values sets the chart is rendered with in the tests: each stands for a way the chart is installed."""

from __future__ import annotations

from typing import Any

from tests.chart.render import OPENSHIFT_API_VERSIONS

SHA_A = "a" * 64
SHA_B = "b" * 64

RECOVERY = {"postgresql": {"clusterName": "pg-cluster-v2"}, "recovery": {"serverName": "pg-cluster-v1"},
            "mlflow": {"replicas": 0}}

# name -> (values, api_versions)
SCENARIOS: dict[str, tuple[dict[str, Any], list[str] | None]] = {
    "defaults": ({}, None),
    "openshift": ({}, OPENSHIFT_API_VERSIONS),
    "plain-kubernetes": ({"openshift": {"enabled": False},
                          "mlflow": {"image": {"repository": "registry.example.com/team/mlflow"}},
                          "ingress": {"enabled": True, "className": "nginx"}}, OPENSHIFT_API_VERSIONS),
    "openshift-forced": ({"openshift": {"enabled": True}}, None),
    "recovery-latest": (RECOVERY, OPENSHIFT_API_VERSIONS),
    "recovery-target-time": ({**RECOVERY, "recovery": {"serverName": "pg-cluster-v1",
                                                       "targetTime": "2026-11-20T10:30:00+02:00",
                                                       "secretName": "mlflow-db-app"}}, OPENSHIFT_API_VERSIONS),
    "upgrade-migration": ({"build": {"tag": "3.6.0"}, "mlflow": {"replicas": 0, "authConfigChecksum": SHA_A},
                           "migration": {"enabled": True, "runId": "20261120-1030"}}, OPENSHIFT_API_VERSIONS),
    "everything": ({"migration": {"enabled": True, "runId": "r1",
                                  "authDatabaseUri": {"secretName": "mlflow-auth-db", "key": "uri"}},
                    "ingress": {"enabled": True},
                    "backup": {"s3": {"regionKey": "AWS_DEFAULT_REGION"}},
                    "postgresql": {"imageName": "ghcr.io/cloudnative-pg/postgresql:16.4",
                                   "storage": {"storageClass": "gp3-csi"},
                                   "parameters": {"max_connections": 200},
                                   "resources": {"requests": {"memory": "1Gi"}}},
                    "mlflow": {"extraEnv": [{"name": "MLFLOW_LOGGING_LEVEL", "value": "DEBUG"}],
                               "extraArgs": ["--expose-prometheus=/tmp/metrics"], "serviceAccountName": "mlflow",
                               "nodeSelector": {"kubernetes.io/os": "linux"}},
                    "build": {"resources": {"limits": {"memory": "2Gi"}}},
                    "monitoring": {"podMonitor": {"enabled": True},
                                   "prometheusRule": {"enabled": True, "labels": {"role": "alert-rules"}}}},
                   OPENSHIFT_API_VERSIONS),
    "backups-disabled": ({"backup": {"enabled": False}}, OPENSHIFT_API_VERSIONS),
}
