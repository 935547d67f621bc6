#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: mlops.mlflow contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: object_store_info
short_description: Locate a CNPG cluster's backups - its ObjectStore, the credentials and CA it references
version_added: 0.2.0
author:
  - mlops.mlflow maintainers (@mlops-mlflow)
description:
  - Reads the CNPG C(Cluster), the Barman Cloud Plugin C(ObjectStore) its WAL archiver names (O(object_store_name)
    when the cluster names none or no longer exists), the Secrets that ObjectStore's C(s3Credentials) and
    C(endpointCA) reference, and the MLflow C(Deployment), in one call.
  - Returns the store in the form M(mlops.mlflow.pg_recover_prepare) takes (RV(object_store)), the catalog Job's
    description for a store only pods reach (RV(catalog_job)), the cluster and its PostgreSQL image, and the
    Deployment.
  - A private CA (the ObjectStore's C(endpointCA), what barman-cloud verifies the endpoint with) is written to a file
    of its own on the control node (a certificate, nothing secret), so that the control node's catalog reads trust it
    too; RV(object_store.ca_bundle) is its path.
  - RV(object_store) holds the store's access keys - register the result in a task with C(no_log).
  - A missing ObjectStore, or a Secret or key it names that does not exist, fails with what is missing and what to
    do.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
  - mlops.mlflow.cluster
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Only reads the cluster (the CA bundle file it writes is on the control node, for the catalog reads).
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  cluster:
    description: The CNPG C(Cluster) whose backups to locate.
    type: str
    required: true
  namespace:
    description: Its namespace.
    type: str
    required: true
  object_store_name:
    description: The C(ObjectStore) to use when the cluster names none (or does not exist any more).
    type: str
    default: mlflow-backups
  deployment:
    description: The MLflow C(Deployment), whose image reads the catalog from inside the cluster.
    type: str
    default: mlflow
  catalog_image:
    description: The image of the catalog Job instead of the Deployment's (Python and boto3 needed).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Locate the backups of pg-cluster-v1
  mlops.mlflow.object_store_info:
    cluster: pg-cluster-v1
    namespace: mlflow
  register: backups
  no_log: true

- name: Plan a recovery against its catalog
  mlops.mlflow.pg_recover_prepare:
    values: "{{ release_values }}"
    source_cluster_name: pg-cluster-v1
    object_store: "{{ backups.object_store }}"
    catalog_job: "{{ backups.catalog_job }}"
"""

RETURN = r"""
cluster:
  description: The C(Cluster) (empty when it does not exist).
  returned: always
  type: dict
cluster_image:
  description: The PostgreSQL image the cluster runs (C(spec.imageName), else C(status.image)); empty when it is gone.
  returned: always
  type: str
  sample: ghcr.io/cloudnative-pg/postgresql:17.5
object_store_resource:
  description: The C(ObjectStore), with its status.
  returned: always
  type: dict
object_store:
  description: The store as M(mlops.mlflow.pg_recover_prepare) takes it. Holds the access keys.
  returned: always
  type: dict
  contains:
    destination_path:
      description: C(destinationPath).
      type: str
      sample: s3://mlflow-backups/mlflow
    endpoint_url:
      description: C(endpointURL) (null for AWS S3).
      type: str
    access_key_id:
      description: The access key id from the C(s3Credentials.accessKeyId) Secret.
      type: str
    secret_access_key:
      description: The secret access key from the C(s3Credentials.secretAccessKey) Secret.
      type: str
    region:
      description: The region from C(s3Credentials.region), when it names one.
      type: str
    ca_bundle:
      description: Path of the file holding the C(endpointCA) bundle (null without one).
      type: str
catalog_job:
  description:
    - The namespace, the C(ObjectStore)'s name and the image for M(mlops.mlflow.pg_recover_prepare)'s
      O(mlops.mlflow.pg_recover_prepare#module:catalog_job).
  returned: always
  type: dict
  sample: {"namespace": "mlflow", "object_store_name": "mlflow-backups", "image": "quay.io/example/mlflow:3.5.0"}
deployment:
  description: The MLflow C(Deployment) (empty when it does not exist).
  returned: always
  type: dict
"""

from ansible_collections.mlops.mlflow.plugins.module_utils.collection_module import CollectionModule
from ansible_collections.mlops.mlflow.plugins.module_utils.object_store_info import locate

ARGUMENT_SPEC = dict(
    cluster=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    object_store_name=dict(type="str", default="mlflow-backups"),
    deployment=dict(type="str", default="mlflow"),
    catalog_image=dict(type="str", default=""),
)


def main():
    CollectionModule(ARGUMENT_SPEC, cluster=True, supports_check_mode=True).execute(locate)


if __name__ == "__main__":
    main()
