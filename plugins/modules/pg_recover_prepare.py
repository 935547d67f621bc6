#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: pg_recover_prepare
short_description: Prepare the chart values of a point-in-time recovery into a new CloudNativePG cluster
version_added: 0.1.0
description:
  - Sets the four values a recovery needs in the C(mlflow) chart's values, and nothing else -
    C(postgresql.clusterName) (the NEW cluster), C(recovery.serverName) (the cluster whose backups are restored),
    C(recovery.targetTime) and C(mlflow.replicas=0).
  - Refuses, before anything changes and with a message naming the problem and the fix, what would fail later
    in the recovery. A new name equal to the old one or not a valid Kubernetes name. A target time without a
    zone or in the future.
  - With O(object_store) or O(catalog_job), the barman-cloud catalog in S3 is read as well. Refused then are a source without a
    completed base backup, a target before the first recoverability point or after the newest archived WAL, a
    O(backup_id) that does not exist or ends after the target, and a non-empty backup folder for the new cluster
    name (the new cluster would hang on "Expected empty archive").
  - The first recoverability point is the end of the oldest completed base backup, and the backup used is the
    newest completed one that ends at or before the target, as the CloudNativePG Barman Cloud Plugin decides.
    WAL files carry no commit times. The end of the window is the S3 C(LastModified) time of the newest
    archived WAL segment, an upper bound of what can be replayed.
  - The catalog is read from the control node (O(object_store)) or, for a store only pods reach, by a short Job
    in the cluster (O(catalog_job)) that runs the same reading code with the MLflow image and the ObjectStore's own
    credentials, CA and endpoint. Both give the same result and the same refusals; O(catalog_from) chooses.
  - "Idempotent: values that already name the recovery S -> C (C(recovery.serverName=S) differs from
    C(postgresql.clusterName=C)) are recognised, so a second run with the same inputs does not bump the name
    again. A new recovery from C, the cluster an earlier recovery created, is asked for with
    O(source_cluster_name=C)."
  - O(values_file) is edited in place with O(write=true). Comments, key order, quoting and indentation are kept,
    the write is atomic, and a backup copy is made on request. With O(values) (for example the live release's
    values), the prepared values are only returned.
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - mlops.mlflow.cluster.file_backup
attributes:
  check_mode:
    support: full
    details:
      - Reads the values and the backup catalog and reports what would change; never writes the file.
      - A catalog read by O(catalog_job) is not run in check mode (a Job is a change to the cluster); the Job is sent
        as a server-side dry run and a warning says the backups are checked by the real run.
  diff_mode:
    support: full
    details: Shows the managed values before and after (only those four keys, so nothing else of the values leaks).
  platform:
    platforms: posix
requirements:
  - ruamel.yaml (with O(values_file))
  - boto3 (with O(object_store); with O(catalog_job), in the Job's image instead)
options:
  values_file:
    description:
      - Path of the Helm values file of the release (read, and edited in place when O(write=true)).
      - Mutually exclusive with O(values); one of them is required.
    type: path
  values:
    description:
      - The release's values as a dictionary (for example C(helm get values) of the live release).
      - The prepared values come back in RV(new_values); nothing is written.
    type: dict
  new_cluster_name:
    description:
      - Name of the new CloudNativePG cluster (a Kubernetes name, at most 40 characters).
      - Default is the C(-vN) bump of the cluster being restored. For example, C(pg-cluster-v1) becomes
        C(pg-cluster-v2), C(pg-cluster) becomes C(pg-cluster-v2) and C(pg-cluster-v9) becomes C(pg-cluster-v10).
      - On values already prepared for a recovery into C, omit it or give C; naming another cluster then requires
        O(source_cluster_name).
    type: str
  source_cluster_name:
    description:
      - The cluster whose backups are restored, when the values alone do not say it.
      - Default is C(postgresql.clusterName) when C(recovery.serverName) is empty. When C(recovery.serverName) is set,
        the values already describe a recovery, and the default keeps it.
      - Set it to the current C(postgresql.clusterName) to start a NEW recovery from a cluster that was itself
        created by a recovery. Set it to C(recovery.serverName) to restore that cluster into another
        O(new_cluster_name).
    type: str
  target_time:
    description:
      - Point in time to recover to, RFC 3339 WITH a zone, for example C(2026-11-20T23:45:00+02:00) or
        C(2026-11-20T21:45:00Z). Fractional seconds are kept.
      - Written to C(recovery.targetTime) in UTC. A time without a zone is refused, because CloudNativePG would
        silently read it as UTC. A time in the future is refused too.
      - Omitted means the latest archived WAL. A C(recovery.targetTime) left from an earlier recovery is then
        cleared.
    type: str
  backup_id:
    description:
      - Base backup expected to serve the recovery, for example C(20261120T000002). Requires O(object_store) or
        O(catalog_job).
      - The module checks that it exists, is completed and ends at or before O(target_time).
      - CloudNativePG itself starts from the newest completed backup before the target. When that is a newer
        one, the module warns and RV(backup) names the one actually used.
    type: str
  postgresql_image:
    description:
      - The PostgreSQL image the new cluster will run (C(postgresql.imageName); for a recovery, the source cluster's
        image unless the values name another). Requires O(object_store) or O(catalog_job).
      - CloudNativePG restores a backup only into the same PostgreSQL major. The module refuses an image whose
        major (from its tag, as CloudNativePG reads it) differs from the chosen backup's (C(version) in its
        C(backup.info)), naming both; it warns when either major cannot be read.
    type: str
  object_store:
    description:
      - The barman-cloud object store to check the recovery against (the chart's C(backup.s3) settings).
      - Without it, only the values and the target time's form are checked.
    type: dict
    suboptions:
      destination_path:
        description: The ObjectStore's C(destinationPath), C(s3://bucket/path); server folders are below it.
        type: str
        required: true
      endpoint_url:
        description: S3 endpoint of an S3-compatible store (MinIO, Ceph, ...); omit for AWS S3.
        type: str
      access_key_id:
        description: Access key; omit to use the AWS SDK's default chain (environment, profile, IRSA).
        type: str
      secret_access_key:
        description: Secret key that goes with O(object_store.access_key_id).
        type: str
      session_token:
        description: Session token for temporary credentials.
        type: str
      region:
        description: Region of the bucket.
        type: str
      ca_bundle:
        description: PEM file of the CA that signed the endpoint's certificate (a private CA).
        type: path
      validate_certs:
        description: Verify the endpoint's TLS certificate. Turn off only for a throw-away test store.
        type: bool
        default: true
      addressing_style:
        description: S3 addressing style; C(path) for stores without virtual-host bucket names.
        type: str
        choices: [auto, path, virtual]
        default: auto
  catalog_from:
    description:
      - Where the catalog is read. V(control_node) reads it here with O(object_store). V(cluster) runs
        O(catalog_job). V(auto) reads it here when O(object_store) is given and runs O(catalog_job) when the store
        cannot be reached from here (its name does not resolve, nothing answers); a store that answers but refuses
        or cannot be verified is an error, not a reason to go elsewhere.
    type: str
    choices: [auto, control_node, cluster]
    default: auto
  catalog_job:
    description:
      - Read the catalog from inside the cluster with a Job (one attempt, the restricted security profile,
        deleted afterwards; RV(catalog_read_from) says which way was used).
      - The Job takes the ObjectStore's C(endpointURL), its C(s3Credentials) Secret keys (as environment
        variables; they never reach the control node) and its C(endpointCA) Secret, as barman-cloud does; the
        destination is O(object_store.destination_path) when given, else the ObjectStore's C(destinationPath).
      - The identity that runs the module needs to create and delete Jobs, and to list pods and read their logs,
        in O(catalog_job.namespace).
    type: dict
    suboptions:
      namespace:
        description: Namespace of the ObjectStore and of the Job.
        type: str
        required: true
      object_store_name:
        description: The barmancloud.cnpg.io ObjectStore the cluster archives to.
        type: str
        required: true
      image:
        description: An image with Python and boto3; the MLflow image the release runs has both.
        type: str
        required: true
      python_command:
        description: Python in the image.
        type: str
        default: python
      service_account_name:
        description: Service account of the Job's pod (the namespace's default one when omitted).
        type: str
      image_pull_policy:
        description: The container's C(imagePullPolicy).
        type: str
        choices: [Always, IfNotPresent, Never]
      job_name_prefix:
        description: Prefix of the Job's name; a random suffix is added.
        type: str
        default: mlflow-backup-catalog
      wait_timeout:
        description: Seconds to wait for the Job to finish.
        type: int
        default: 300
      keep_failed_job:
        description: Keep a Job that failed, for C(kubectl describe) and its log.
        type: bool
        default: false
  write:
    description:
      - Write the prepared values back to O(values_file). Without it, the module only reports.
    type: bool
    default: false
notes:
  - C(changed) tells whether the prepared values differ from the given ones, also when nothing is written
    (O(write=false), or O(values)), so a play can tell a new preparation from a repeated one.
  - Run it before C(helm upgrade) of the recovery. Once the new cluster has started to archive (values already
    prepared, and its folder holds WAL of the restored database), a re-run with the same inputs changes nothing
    and reports RV(new_cluster_started).
  - The check of the newest archived WAL is necessary, not sufficient. Recovery also fails when no transaction was
    committed after the target. On a quiet database, make a change and force a WAL switch after the target time
    (CloudNativePG archives at least every 5 minutes when there is activity).
seealso:
  - name: CloudNativePG recovery
    description: Bootstrap of a new cluster from a backup and WAL archive.
    link: https://cloudnative-pg.io/documentation/current/recovery/
  - name: Barman Cloud Plugin
    description: The plugin that archives WAL and base backups to object stores.
    link: https://cloudnative-pg.io/plugin-barman-cloud/
"""

EXAMPLES = r"""
- name: Prepare a recovery of the current cluster to a point in time, checked against the backups, and save it
  mlops.mlflow.pg_recover_prepare:
    values_file: inventories/prod/mlflow-values.yaml
    target_time: "2026-11-20T23:45:00+02:00"
    object_store:
      destination_path: s3://mlflow-backups/mlflow-pg
      endpoint_url: https://s3.example.com
      access_key_id: "{{ backup_s3_access_key_id }}"
      secret_access_key: "{{ backup_s3_secret_access_key }}"
      ca_bundle: /etc/pki/tls/certs/internal-ca.pem
    write: true
    backup: true
  register: recovery

- name: Show what the recovery will do
  ansible.builtin.debug:
    msg: >-
      {{ recovery.old_cluster_name }} -> {{ recovery.new_cluster_name }} from backup {{ recovery.backup.id }}
      to {{ recovery.target_time | default('the latest WAL', true) }}

- name: Prepare from the live release's values (nothing written), to the latest archived WAL
  mlops.mlflow.pg_recover_prepare:
    values: "{{ current_release_values }}"
    new_cluster_name: pg-cluster-v2
    object_store:
      destination_path: s3://mlflow-backups/mlflow-pg
      endpoint_url: https://s3.example.com
  register: recovery

- name: The same, for a store only pods reach (an in-cluster MinIO); the MLflow image reads the catalog in a Job
  mlops.mlflow.pg_recover_prepare:
    values: "{{ current_release_values }}"
    catalog_from: cluster
    catalog_job:
      namespace: mlflow
      object_store_name: mlflow-backups
      image: image-registry.openshift-image-registry.svc:5000/mlflow/mlflow:3.5.0
  register: recovery

- name: A later recovery from pg-cluster-v2, itself created by a recovery from pg-cluster-v1
  mlops.mlflow.pg_recover_prepare:
    values_file: inventories/prod/mlflow-values.yaml
    source_cluster_name: pg-cluster-v2
    target_time: "2026-12-01T08:00:00Z"
    write: true
"""

RETURN = r"""
old_cluster_name:
  description: The cluster whose backups are restored (becomes C(recovery.serverName)).
  returned: success
  type: str
  sample: pg-cluster-v1
new_cluster_name:
  description: The new cluster (becomes C(postgresql.clusterName)).
  returned: success
  type: str
  sample: pg-cluster-v2
new_values:
  description:
    - The complete prepared values (what to pass to C(helm upgrade)).
    - Named C(new_values) because a return key C(values) could not be read as C(result.values) in Jinja.
  returned: success
  type: dict
  sample: {"postgresql": {"clusterName": "pg-cluster-v2"}, "recovery": {"serverName": "pg-cluster-v1"}}
changes:
  description: Dotted keys whose value changed (empty when the values were already prepared).
  returned: success
  type: list
  elements: str
  sample: ["postgresql.clusterName", "recovery.serverName", "recovery.targetTime", "mlflow.replicas"]
already_prepared:
  description: The values already named this recovery (the cluster names did not move).
  returned: success
  type: bool
  sample: false
new_cluster_started:
  description:
    - The new cluster has already begun archiving WAL of the restored database into its folder.
    - This means the recovery has started from these values.
  returned: success
  type: bool
  sample: false
target_time:
  description: The normalised target time in UTC (V(null) for the latest archived WAL).
  returned: success
  type: str
  sample: "2026-11-20T21:45:00Z"
recovery_window:
  description: What the source's catalog can recover to (UTC times).
  returned: when O(object_store) is given
  type: dict
  contains:
    first_recoverability_point:
      description: End of the oldest completed base backup.
      type: str
      sample: "2026-10-21T00:00:09.527311Z"
    last_backup_end:
      description: End of the newest completed base backup.
      type: str
      sample: "2026-11-20T00:00:08.120404Z"
    last_wal_time:
      description: S3 C(LastModified) of the newest archived WAL segment.
      type: str
      sample: "2026-11-21T09:55:02Z"
backup:
  description: The base backup the recovery will start from.
  returned: when O(object_store) is given
  type: dict
  contains:
    id:
      description: Backup id.
      type: str
      sample: "20261120T000002"
    begin:
      description: Start of the backup (UTC).
      type: str
      sample: "2026-11-20T00:00:02.068603Z"
    end:
      description: End of the backup (UTC).
      type: str
      sample: "2026-11-20T00:00:08.120404Z"
    timeline:
      description: PostgreSQL timeline of the backup.
      type: int
      sample: 1
    begin_wal:
      description: First WAL segment the backup needs.
      type: str
      sample: "000000010000000000000002"
    end_wal:
      description: Last WAL segment the backup needs.
      type: str
      sample: "000000010000000000000002"
    postgresql_major:
      description: PostgreSQL major that took the backup (from C(version) in its C(backup.info)); null if unrecorded.
      type: int
      sample: 17
    cluster_size:
      description:
        - Bytes the cluster's data held when the backup started (C(cluster_size) in its C(backup.info),
          barman's C(sum(pg_tablespace_size())); about what a restore writes; null if unrecorded. The recovery's
          progress lines measure the restore against it.
      type: int
      sample: 1221602304
catalog_read_from:
  description: Where the catalog was read, V(control_node) or V(cluster) (by a Job).
  returned: when O(object_store) or O(catalog_job) is given
  type: str
  sample: control_node
backup_file:
  description: The backup copy of O(values_file) made before writing it.
  returned: when O(write=true), O(backup=true) and the file changed
  type: str
  sample: inventories/prod/mlflow-values.yaml.12345.2026-11-21@10:00:00~
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.recovery_prepare import run_prepare

OBJECT_STORE_SPEC = dict(
    destination_path=dict(type="str", required=True),
    endpoint_url=dict(type="str"),
    access_key_id=dict(type="str", no_log=True),
    secret_access_key=dict(type="str", no_log=True),
    session_token=dict(type="str", no_log=True),
    region=dict(type="str"),
    ca_bundle=dict(type="path"),
    validate_certs=dict(type="bool", default=True),
    addressing_style=dict(type="str", choices=["auto", "path", "virtual"], default="auto"),
)

CATALOG_JOB_SPEC = dict(
    namespace=dict(type="str", required=True),
    object_store_name=dict(type="str", required=True),
    image=dict(type="str", required=True),
    python_command=dict(type="str", default="python"),
    service_account_name=dict(type="str"),
    image_pull_policy=dict(type="str", choices=["Always", "IfNotPresent", "Never"]),
    job_name_prefix=dict(type="str", default="mlflow-backup-catalog"),
    wait_timeout=dict(type="int", default=300),
    keep_failed_job=dict(type="bool", default=False),
)

ARGUMENT_SPEC = dict(
    values_file=dict(type="path"),
    values=dict(type="dict"),
    new_cluster_name=dict(type="str"),
    source_cluster_name=dict(type="str"),
    target_time=dict(type="str"),
    backup_id=dict(type="str"),
    postgresql_image=dict(type="str"),
    object_store=dict(type="dict", options=OBJECT_STORE_SPEC),
    catalog_from=dict(type="str", choices=["auto", "control_node", "cluster"], default="auto"),
    catalog_job=dict(type="dict", options=CATALOG_JOB_SPEC),
    write=dict(type="bool", default=False),
    backup=dict(type="bool", default=False),
)


def main():
    module = CollectionModule(
        ARGUMENT_SPEC, cluster=True, supports_check_mode=True,
        mutually_exclusive=[("values_file", "values")],
        required_one_of=[("values_file", "values")],
        required_if=[("write", True, ("values_file",)), ("catalog_from", "control_node", ("object_store",)),
                     ("catalog_from", "cluster", ("catalog_job",))],
    )
    module.execute(run_prepare)


if __name__ == "__main__":
    main()
