"""What the rendered objects do: backups, recovery, databases, security, hosts, restarts, images, OpenShift."""

from __future__ import annotations

from typing import Any

import pytest

from tests.chart.render import OPENSHIFT_API_VERSIONS, find, one, render, render_notes
from tests.chart.scenarios import RECOVERY, SCENARIOS, SHA_A, SHA_B

PLUGIN = "barman-cloud.cloudnative-pg.io"


def openshift(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return render(values or {}, OPENSHIFT_API_VERSIONS)


def container(objects: list[dict[str, Any]], kind: str = "Deployment") -> dict[str, Any]:
    return one(objects, kind)["spec"]["template"]["spec"]["containers"][0]


def env_of(c: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def server_args(objects: list[dict[str, Any]]) -> dict[str, str]:
    args = container(objects)["args"]
    assert args[0] == "server"
    return dict((a.split("=", 1) + [""])[:2] for a in args[1:])


def allowed_hosts(objects: list[dict[str, Any]]) -> list[str]:
    return server_args(objects)["--allowed-hosts"].split(",")


def checksum(values: dict[str, Any]) -> str:
    return one(openshift(values), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    specs = [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "Job")]
    for template in find(objects, "Template"):
        specs += [o["spec"]["template"]["spec"] for o in template["objects"] if o["kind"] == "Job"]
    return specs


# --- backups -------------------------------------------------------------------------------------------------

def test_scheduled_backup_is_a_daily_plugin_backup_owned_by_itself():
    backup = one(openshift(), "ScheduledBackup")
    assert backup["metadata"]["name"] == "pg-cluster-v1-daily"
    assert backup["spec"]["cluster"] == {"name": "pg-cluster-v1"}
    assert backup["spec"]["schedule"] == "0 0 0 * * *"
    assert backup["spec"]["method"] == "plugin"
    assert backup["spec"]["pluginConfiguration"]["name"] == PLUGIN
    assert backup["spec"]["backupOwnerReference"] == "self"


def test_object_store_keeps_thirty_days_and_reads_credentials_from_the_secret():
    store = one(openshift(), "ObjectStore")
    assert store["spec"]["retentionPolicy"] == "30d"
    conf = store["spec"]["configuration"]
    assert conf["destinationPath"] == "s3://mlflow-backups/mlflow-pg"
    assert conf["endpointURL"] == "https://s3.example.com"
    assert conf["s3Credentials"]["accessKeyId"] == {"name": "s3-credentials", "key": "AWS_ACCESS_KEY_ID"}
    assert conf["s3Credentials"]["secretAccessKey"] == {"name": "s3-credentials", "key": "AWS_SECRET_ACCESS_KEY"}
    assert "serverName" not in conf  # the plugin refuses it here: it belongs to the Cluster's plugin parameters


def test_a_private_ca_is_given_to_the_object_store_and_to_the_servers_s3_client():
    """The ObjectStore's `endpointCA` (the Barman Cloud Plugin's CRD, ../shared/schemas) is a Secret key reference;
    boto3, MLflow's S3 client, reads a bundle from AWS_CA_BUNDLE."""
    assert "endpointCA" not in one(openshift(), "ObjectStore")["spec"]["configuration"]
    assert "AWS_CA_BUNDLE" not in env_of(container(openshift()))
    objects = openshift({"backup": {"s3": {"endpointCA": {"secretName": "s3-ca", "key": "bundle.pem"}}},
                         "mlflow": {"artifacts": {"endpointCA": {"secretName": "s3-ca"}}}})
    assert one(objects, "ObjectStore")["spec"]["configuration"]["endpointCA"] == {"name": "s3-ca", "key": "bundle.pem"}
    server = container(objects)
    assert env_of(server)["AWS_CA_BUNDLE"] == "/etc/mlflow/s3-ca/ca.crt"
    assert {"name": "s3-ca", "mountPath": "/etc/mlflow/s3-ca", "readOnly": True} in server["volumeMounts"]
    volumes = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "s3-ca", "secret": {"secretName": "s3-ca", "items": [{"key": "ca.crt", "path": "ca.crt"}]}} in volumes


def test_backup_settings_follow_the_values():
    objects = openshift({"backup": {"retentionPolicy": "8w", "schedule": "0 30 1 * * *", "objectStoreName": "store"}})
    assert one(objects, "ObjectStore", "store")["spec"]["retentionPolicy"] == "8w"
    assert one(objects, "ScheduledBackup")["spec"]["schedule"] == "0 30 1 * * *"
    assert one(objects, "Cluster")["spec"]["plugins"][0]["parameters"]["barmanObjectName"] == "store"


def test_cluster_archives_wal_through_the_plugin_under_its_own_name():
    cluster = one(openshift(), "Cluster", "pg-cluster-v1")
    assert "backup" not in cluster["spec"]  # the in-tree barmanObjectStore section is gone in CNPG 1.31
    (plugin,) = cluster["spec"]["plugins"]
    assert plugin["name"] == PLUGIN and plugin["isWALArchiver"] is True
    assert plugin["parameters"] == {"barmanObjectName": "mlflow-backups", "serverName": "pg-cluster-v1"}


def test_disabling_backups_removes_archiving_and_schedules():
    objects = render(*SCENARIOS["backups-disabled"])
    assert not find(objects, "ObjectStore") and not find(objects, "ScheduledBackup")
    assert "plugins" not in one(objects, "Cluster")["spec"]


# --- recovery ------------------------------------------------------------------------------------------------

def test_new_cluster_starts_from_initdb_without_recovery():
    bootstrap = one(openshift(), "Cluster")["spec"]["bootstrap"]
    assert bootstrap == {"initdb": {"database": "mlflow", "owner": "mlflow"}}
    assert "externalClusters" not in one(openshift(), "Cluster")["spec"]


def test_recovery_bootstraps_the_new_cluster_from_the_old_server_name_to_the_latest_wal():
    cluster = one(openshift(RECOVERY), "Cluster", "pg-cluster-v2")
    recovery = cluster["spec"]["bootstrap"]["recovery"]
    assert "initdb" not in cluster["spec"]["bootstrap"]
    assert recovery["database"] == "mlflow" and recovery["owner"] == "mlflow"
    assert "recoveryTarget" not in recovery and "secret" not in recovery
    (source,) = [c for c in cluster["spec"]["externalClusters"] if c["name"] == recovery["source"]]
    assert source["plugin"]["name"] == PLUGIN
    assert source["plugin"]["parameters"] == {"barmanObjectName": "mlflow-backups", "serverName": "pg-cluster-v1"}
    # it archives into a new folder, never into the one it restores from
    assert cluster["spec"]["plugins"][0]["parameters"]["serverName"] == "pg-cluster-v2"
    assert cluster["spec"]["plugins"][0]["isWALArchiver"] is True


def test_recovery_to_a_point_in_time_with_stable_credentials():
    values, api_versions = SCENARIOS["recovery-target-time"]
    objects = render(values, api_versions)
    recovery = one(objects, "Cluster")["spec"]["bootstrap"]["recovery"]
    assert recovery["recoveryTarget"] == {"targetTime": "2026-11-20T10:30:00+02:00"}
    assert recovery["secret"] == {"name": "mlflow-db-app"}
    # CNPG then uses that Secret as the app secret: the server must read its credentials from it
    env = env_of(container(objects))
    assert env["PGPASSWORD"]["secretKeyRef"] == {"name": "mlflow-db-app", "key": "password"}
    assert env["PGHOST"] == "pg-cluster-v2-rw"


def test_a_recovery_to_a_past_time_can_keep_the_server_on_the_cluster_it_runs_on():
    # recover.yml restores to a past time while MLflow serves: the release that creates the new cluster keeps the
    # server's connection (host and credentials) on the old one; its last release empties mlflow.database.
    values, api_versions = SCENARIOS["recovery-target-time"]
    kept = {**values, "mlflow": {**values.get("mlflow", {}), "replicas": 2,
                                 "database": {"host": "pg-cluster-v1-rw", "secretName": "pg-cluster-v1-app"}}}
    objects = render(kept, api_versions)
    assert one(objects, "Cluster")["metadata"]["name"] == "pg-cluster-v2"
    assert one(objects, "Deployment")["spec"]["replicas"] == 2
    env = env_of(container(objects))
    assert env["PGHOST"] == "pg-cluster-v1-rw"
    assert env["PGUSER"]["secretKeyRef"] == {"name": "pg-cluster-v1-app", "key": "username"}
    assert env["PGPASSWORD"]["secretKeyRef"] == {"name": "pg-cluster-v1-app", "key": "password"}


def test_recovery_from_another_object_store():
    objects = openshift({**RECOVERY, "recovery": {"serverName": "pg-cluster-v1", "objectStoreName": "old-store"}})
    (source,) = one(objects, "Cluster")["spec"]["externalClusters"]
    assert source["plugin"]["parameters"]["barmanObjectName"] == "old-store"
    assert one(objects, "Cluster")["spec"]["plugins"][0]["parameters"]["barmanObjectName"] == "mlflow-backups"


def test_recovery_values_keep_the_server_stopped_and_notes_explain_what_to_check():
    objects = openshift(RECOVERY)
    assert one(objects, "Deployment")["spec"]["replicas"] == 0
    notes = render_notes(RECOVERY, OPENSHIFT_API_VERSIONS)
    assert "RECOVERY from serverName pg-cluster-v1" in notes
    assert "Expected empty archive" in notes
    assert "oc scale deployment/mlflow --replicas=1" in notes


# --- databases -----------------------------------------------------------------------------------------------

def test_auth_database_is_separate_from_the_tracking_database():
    objects = openshift()
    database = one(objects, "Database")
    assert database["spec"]["cluster"] == {"name": "pg-cluster-v1"}
    assert database["spec"]["name"] == "mlflow_auth" and database["spec"]["owner"] == "mlflow"
    assert database["spec"]["databaseReclaimPolicy"] == "retain"
    tracking_db = one(objects, "Cluster")["spec"]["bootstrap"]["initdb"]["database"]
    assert tracking_db == "mlflow" != database["spec"]["name"]
    assert server_args(objects)["--backend-store-uri"].endswith(f"/{tracking_db}")


def test_recovered_cluster_also_gets_the_auth_database_resource():
    database = one(openshift(RECOVERY), "Database")
    assert database["spec"]["cluster"] == {"name": "pg-cluster-v2"}
    assert database["metadata"]["name"] == "pg-cluster-v2-mlflow-auth"


def test_server_connects_with_the_cnpg_app_secret_and_no_credentials_in_the_uri():
    objects = openshift()
    env = env_of(container(objects))
    assert env["PGHOST"] == "pg-cluster-v1-rw" and env["PGPORT"] == "5432"
    assert env["PGUSER"]["secretKeyRef"] == {"name": "pg-cluster-v1-app", "key": "username"}
    assert env["PGPASSWORD"]["secretKeyRef"] == {"name": "pg-cluster-v1-app", "key": "password"}
    uri = server_args(objects)["--backend-store-uri"]
    assert uri == env["MLFLOW_BACKEND_STORE_URI"] == "postgresql+psycopg2:///mlflow"


# --- server --------------------------------------------------------------------------------------------------

def test_server_runs_basic_auth_on_all_interfaces_with_proxied_s3_artifacts():
    objects = openshift()
    c = container(objects)
    args = server_args(objects)
    assert c["command"] == ["mlflow"]
    assert args["--app-name"] == "basic-auth" and args["--host"] == "0.0.0.0"
    assert "--serve-artifacts" in args and args["--artifacts-destination"] == "s3://mlflow-artifacts/"
    assert "--default-artifact-root" not in args
    env = env_of(c)
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "https://s3.example.com"
    assert c["envFrom"] == [{"secretRef": {"name": "s3-credentials"}}]
    assert env["MLFLOW_FLASK_SERVER_SECRET_KEY"]["secretKeyRef"]["name"] == "mlflow-flask-secret"
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]


def test_auth_config_is_mounted_from_its_secret_where_mlflow_looks_for_it():
    objects = openshift()
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    c = container(objects)
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "mlflow-auth-config"
    assert volume["secret"]["items"] == [{"key": "basic-auth.ini", "path": "basic-auth.ini"}]
    (mount,) = [m for m in c["volumeMounts"] if m["name"] == volume["name"]]
    assert env_of(c)["MLFLOW_AUTH_CONFIG_PATH"] == f"{mount['mountPath']}/basic-auth.ini"


def test_probes_use_health():
    c = container(openshift())
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}


def test_replicas_and_names_follow_the_values():
    objects = openshift({"mlflow": {"replicas": 3}})
    assert one(objects, "Deployment", "mlflow")["spec"]["replicas"] == 3
    assert one(objects, "Service", "mlflow")
    renamed = openshift({"fullnameOverride": "tracking"})
    assert one(renamed, "Deployment", "tracking") and one(renamed, "Route", "tracking")
    assert one(renamed, "Route")["spec"]["to"]["name"] == "tracking"


# --- security ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scenario", ["openshift", "upgrade-migration", "plain-kubernetes"])
def test_pods_are_admitted_by_restricted_v2(scenario):
    specs = pod_specs(render(*SCENARIOS[scenario]))
    assert specs
    for spec in specs:
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for key in ("runAsUser", "runAsGroup", "fsGroup", "supplementalGroups"):
            assert key not in spec["securityContext"]
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert "runAsUser" not in sc and "privileged" not in sc
            assert env_of(c)["HOME"] == "/tmp"
            (tmp,) = [m for m in c["volumeMounts"] if m["mountPath"] == "/tmp"]
            assert [v for v in spec["volumes"] if v["name"] == tmp["name"]][0].get("emptyDir") is not None


# --- allowed hosts -------------------------------------------------------------------------------------------

def test_allowed_hosts_include_the_route_host_and_the_service_names():
    objects = openshift()
    hosts = allowed_hosts(objects)
    assert one(objects, "Route")["spec"]["host"] == "mlflow-mlflow.apps.cluster.example.com"
    assert "mlflow-mlflow.apps.cluster.example.com" in hosts
    for name in ("mlflow:5000", "mlflow.mlflow.svc:5000", "mlflow.mlflow.svc.cluster.local:5000", "mlflow"):
        assert name in hosts


def test_allowed_hosts_follow_an_explicit_route_host_namespace_and_extras():
    objects = render({"route": {"host": "mlflow.example.org"}, "mlflow": {"allowedHosts": ["*.corp.example"]}},
                     OPENSHIFT_API_VERSIONS, namespace="ml-prod")
    hosts = allowed_hosts(objects)
    assert one(objects, "Route")["spec"]["host"] == "mlflow.example.org"
    assert {"mlflow.example.org", "mlflow.ml-prod.svc:5000", "*.corp.example"} <= set(hosts)
    assert "mlflow-mlflow.apps.cluster.example.com" not in hosts


def test_allowed_hosts_include_the_ingress_host_on_plain_kubernetes():
    hosts = allowed_hosts(render(*SCENARIOS["plain-kubernetes"]))
    assert "mlflow.example.com" in hosts
    assert not [h for h in hosts if "apps.cluster.example.com" in h]


def test_mlflow_2_servers_get_no_allowed_hosts_flag():
    """--allowed-hosts came with MLflow 3.5's security middleware; older servers refuse unknown options."""
    assert "--allowed-hosts" not in server_args(openshift({"mlflow": {"image": {"tag": "2.22.5"}}}))
    assert "--allowed-hosts" in server_args(openshift({"mlflow": {"image": {"tag": "3.5.0"}}}))


# --- restarts ------------------------------------------------------------------------------------------------

def test_checksum_changes_when_the_auth_config_changes():
    assert checksum({"mlflow": {"authConfigChecksum": SHA_A}}) != checksum({"mlflow": {"authConfigChecksum": SHA_B}})
    assert checksum({}) != checksum({"mlflow": {"authConfigChecksum": SHA_A}})


def test_checksum_changes_when_other_mounted_config_changes():
    assert checksum({"mlflow": {"extraConfigChecksum": SHA_A}}) != checksum({"mlflow": {"extraConfigChecksum": SHA_B}})
    assert checksum({}) != checksum({"mlflow": {"authConfig": {"secretName": "other-auth", "key": "auth.ini"}}})


def test_checksum_is_stable_otherwise():
    base = {"mlflow": {"authConfigChecksum": SHA_A}}
    assert checksum(base) == checksum(base)
    unrelated = {"mlflow": {"authConfigChecksum": SHA_A, "replicas": 0, "image": {"tag": "3.6.0"}},
                 "postgresql": {"instances": 3}, "backup": {"schedule": "0 0 1 * * *"}}
    assert checksum(unrelated) == checksum(base)


# --- images --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("tag", ["3.5.0", "v3.5.0"])
def test_tag_is_normalised_to_the_v_prefixed_image_tag(tag):
    objects = openshift({"mlflow": {"image": {"tag": tag}}})
    assert container(objects)["image"] == "image-registry.openshift-image-registry.svc:5000/mlflow/mlflow:v3.5.0"
    build = one(objects, "BuildConfig", "mlflow-v3-5-0")
    dockerfile = build["spec"]["source"]["dockerfile"]
    assert "FROM ghcr.io/mlflow/mlflow:v3.5.0\n" in dockerfile
    # The pinned set of 3.5.0 (test_chart_image_requirements.py checks it pin by pin).
    assert '"mlflow==3.5.0"' in dockerfile and '"psycopg2-binary==' in dockerfile and '"boto3==' in dockerfile
    assert build["spec"]["output"]["to"] == {"kind": "ImageStreamTag", "name": "mlflow:v3.5.0"}
    assert build["spec"]["strategy"]["type"] == "Docker"
    assert one(objects, "Deployment")["metadata"]["labels"]["app.kubernetes.io/version"] == "3.5.0"


def test_plain_kubernetes_uses_a_ready_image():
    objects = render(*SCENARIOS["plain-kubernetes"])
    assert container(objects)["image"] == "registry.example.com/team/mlflow:v3.5.0"
    assert not find(objects, "BuildConfig") and not find(objects, "ImageStream")
    # Digest-pinned references: tests/chart/test_chart_prebuilt_images.py.


def test_nothing_but_helm_sets_the_deployment_image():
    """No image trigger: a freshly built tag cannot roll pods before the migration."""
    deployment = one(openshift(), "Deployment")
    assert "image.openshift.io/triggers" not in deployment["metadata"].get("annotations", {})
    assert "image.openshift.io/triggers" not in deployment["spec"]["template"]["metadata"]["annotations"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def test_upgrade_builds_and_migrates_the_new_version_while_the_deployment_keeps_the_old_one():
    objects = render(*SCENARIOS["upgrade-migration"])
    registry = "image-registry.openshift-image-registry.svc:5000/mlflow/mlflow"
    assert container(objects)["image"] == f"{registry}:v3.5.0"
    assert one(objects, "BuildConfig")["metadata"]["name"] == "mlflow-v3-6-0"
    # No trigger: builds are started by the automation, only for a tag that does not exist (roles/common wait_image).
    assert one(objects, "BuildConfig")["spec"]["triggers"] == []
    assert container(objects, "Job")["image"] == f"{registry}:v3.6.0"
    template = one(objects, "Template", "migrate-db")
    assert {p["name"]: p.get("value") for p in template["parameters"]}["IMAGE"] == f"{registry}:v3.6.0"


# --- OpenShift detection -------------------------------------------------------------------------------------

OPENSHIFT_KINDS = {"Route", "ImageStream", "BuildConfig", "Template"}


def kinds(objects: list[dict[str, Any]]) -> set[str]:
    return {o["kind"] for o in objects}


def test_openshift_objects_render_when_the_cluster_serves_their_apis():
    assert kinds(openshift()) >= OPENSHIFT_KINDS
    assert not kinds(render({})) & OPENSHIFT_KINDS
    only_routes = render({}, ["route.openshift.io/v1"])
    assert kinds(only_routes) & OPENSHIFT_KINDS == {"Route"}


def test_openshift_objects_can_be_forced_either_way():
    assert kinds(render({"openshift": {"enabled": True}})) >= OPENSHIFT_KINDS
    assert not kinds(render({"openshift": {"enabled": False}}, OPENSHIFT_API_VERSIONS)) & OPENSHIFT_KINDS


def test_route_terminates_tls_at_the_edge_with_a_long_timeout():
    route = one(openshift(), "Route")
    assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
    assert route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] == "600s"
    assert route["spec"]["to"] == {"kind": "Service", "name": "mlflow", "weight": 100}


# --- migrate-db ----------------------------------------------------------------------------------------------

def test_migrate_job_runs_once_with_a_unique_name_per_run():
    job = one(render(*SCENARIOS["upgrade-migration"]), "Job")
    assert job["metadata"]["name"] == "mlflow-migrate-20261120-1030"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    other = one(openshift({"migration": {"enabled": True, "runId": "20261121-0900"}}), "Job")
    assert other["metadata"]["name"] != job["metadata"]["name"]
    assert not find(openshift(), "Job")  # only rendered for a migration run


def test_migration_pods_are_not_selected_by_the_service_or_the_deployment():
    objects = render(*SCENARIOS["upgrade-migration"])
    job_pod_labels = one(objects, "Job")["spec"]["template"]["metadata"]["labels"]
    server_pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for selector in (one(objects, "Service")["spec"]["selector"],
                     one(objects, "Deployment")["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= server_pod_labels.items()
        assert not selector.items() <= job_pod_labels.items()


def test_migrate_job_migrates_tracking_then_auth_with_the_servers_credentials():
    objects = render(*SCENARIOS["upgrade-migration"])
    c = container(objects, "Job")
    script = c["command"][-1]
    assert c["command"][:2] == ["/bin/sh", "-c"]
    tracking = script.index('mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"')
    auth = script.index('python -m mlflow.server.auth db upgrade --url "$AUTH_DB_URI"')
    assert tracking < auth
    env = env_of(c)
    server_env = env_of(container(objects))
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "MLFLOW_BACKEND_STORE_URI", "MLFLOW_AUTH_CONFIG_PATH"):
        assert env[name] == server_env[name]


def test_migrate_job_can_take_the_auth_uri_from_a_secret():
    c = container(render(*SCENARIOS["everything"]), "Job")
    assert env_of(c)["AUTH_DB_URI"] == {"secretKeyRef": {"name": "mlflow-auth-db", "key": "uri"}}


def test_migrate_db_template_takes_the_image_as_in_the_runbook():
    template = one(openshift(), "Template", "migrate-db")
    parameters = {p["name"]: p for p in template["parameters"]}
    assert parameters["IMAGE"]["required"] is True
    assert parameters["RUN_ID"]["generate"] == "expression"
    (job,) = template["objects"]
    assert job["metadata"]["name"] == "mlflow-migrate-${RUN_ID}"
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "${IMAGE}"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


# --- monitoring ----------------------------------------------------------------------------------------------

def test_prometheus_rule_alerts_on_backup_age_failed_backups_and_archiving():
    objects = render(*SCENARIOS["everything"])
    rule = one(objects, "PrometheusRule")
    assert rule["metadata"]["labels"]["role"] == "alert-rules"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    assert set(alerts) == {"MLflowPostgresBackupTooOld", "MLflowPostgresBackupMetricsMissing",
                           "MLflowPostgresLastBackupFailed", "MLflowPostgresWALArchivingFailing"}
    assert "> 93600" in alerts["MLflowPostgresBackupTooOld"]["expr"]  # 26 hours
    for alert in alerts.values():
        assert 'pod=~"pg-cluster-v1-[0-9]+"' in alert["expr"] and 'namespace="mlflow"' in alert["expr"]
    assert "cnpg_pg_stat_archiver_last_failed_time" in alerts["MLflowPostgresWALArchivingFailing"]["expr"]
    monitor = one(objects, "PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"] == {"cnpg.io/cluster": "pg-cluster-v1"}
    assert not find(openshift(), "PrometheusRule")


def test_notes_tell_the_operator_what_to_check():
    notes = render_notes({}, OPENSHIFT_API_VERSIONS)
    for text in ("oc get cluster pg-cluster-v1", "ContinuousArchiving", "oc get scheduledbackup pg-cluster-v1-daily",
                 "serverRecoveryWindow", "mlflow-v3-5-0", "https://mlflow-mlflow.apps.cluster.example.com/health",
                 "oc create secret generic mlflow-auth-config"):
        assert text in notes


def test_helm_never_deletes_a_database_cluster_unless_told_to():
    kept = one(render(), "Cluster")
    assert kept["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    released = one(render({"postgresql": {"keepOnRemoval": False}}), "Cluster")
    assert "helm.sh/resource-policy" not in (released["metadata"].get("annotations") or {})
    # The store a kept cluster archives into and restores from stays with it.
    assert one(render(), "ObjectStore")["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    store = one(render({"postgresql": {"keepOnRemoval": False}}), "ObjectStore")
    assert "helm.sh/resource-policy" not in (store["metadata"].get("annotations") or {})
