"""CNPG Database resources: the database exists in the cluster's primary with the owner asked for (created when
missing, adopted when it is there, e.g. after a recovery), or is dropped with `ensure: absent`."""

from __future__ import annotations

from .base import Controller
from .util import write_status


class DatabaseController(Controller):
    name = "cnpg-database"
    kind = ("postgresql.cnpg.io/v1", "Database")

    def reconcile(self, obj, namespace, name):
        if obj is None:
            return None
        spec = obj.get("spec") or {}
        runner = self.runtime.clusters.get((namespace, (spec.get("cluster") or {}).get("name", "")))
        generation = obj["metadata"].get("generation", 1)
        if runner is None or not runner.ready:
            write_status(self.client, obj, {"applied": False, "observedGeneration": generation,
                                            "message": "the cluster's primary is not ready"})
            return 3.0
        database, owner = spec.get("name", ""), spec.get("owner", "")
        try:
            exists = runner.instance.sql("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                                         (database,))
            if spec.get("ensure", "present") == "absent":
                if exists:
                    runner.instance.sql(f'DROP DATABASE "{database}" WITH (FORCE)')
            elif not exists:
                runner.instance.sql(f'CREATE DATABASE "{database}" OWNER "{owner}"')
            elif owner and exists[0][0] != owner:
                runner.instance.sql(f'ALTER DATABASE "{database}" OWNER TO "{owner}"')
        except Exception as exc:  # pylint: disable=broad-exception-caught  # reported in the status, retried
            write_status(self.client, obj, {"applied": False, "observedGeneration": generation,
                                            "message": str(exc)[-1000:]})
            return 5.0
        write_status(self.client, obj, {"applied": True, "observedGeneration": generation})
        return None
