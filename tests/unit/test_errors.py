"""The collection's one error base and its one translation to a module failure (plugins/module_utils/errors.py)."""

from __future__ import annotations

import pytest

from ansible_collections.mlops.mlflow.plugins.module_utils import (
    backup_catalog, basic_auth_ini, cluster_name, env_file, errors, lease, mlflow_api, mlflow_migrate_job,
    mlflow_version, recovery_values, rfc3339, sqlalchemy_uri, values_file)
from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError, fail_with


class Failed(Exception):
    pass


class FakeModule:
    def fail_json(self, **result):
        raise Failed(result)


@pytest.mark.parametrize("error_class", [
    backup_catalog.CatalogError, basic_auth_ini.IniError, cluster_name.ClusterNameError, env_file.EnvFileError,
    lease.LockHeld, mlflow_api.MlflowApiError, mlflow_migrate_job.JobError, mlflow_version.VersionError,
    recovery_values.RecoveryValuesError, rfc3339.TargetTimeError, sqlalchemy_uri.UriError,
    values_file.ValuesFileError,
])
def test_every_error_for_the_user_has_the_one_base(error_class):
    assert issubclass(error_class, errors.CollectionError)


def test_value_errors_stay_value_errors():
    with pytest.raises(ValueError):
        rfc3339.parse_target_time("2026-11-20T10:00:00")


def test_the_failure_carries_the_message_and_what_is_known():
    error = CollectionError("the migration stopped: rerun it", job_name="mlflow-migrate-x", job_kept=True)
    with pytest.raises(Failed) as failed:
        fail_with(FakeModule(), error, duration=1.5)
    assert failed.value.args[0] == {"msg": "the migration stopped: rerun it", "job_name": "mlflow-migrate-x",
                                    "job_kept": True, "duration": 1.5}
