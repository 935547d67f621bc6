# -*- coding: utf-8 -*-
# Copyright: contributors to the mlops.mlflow collection
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The mlflow_server_info module's work: call an MLflow server as a user would (basic auth over its URL) and report
its health, version and, optionally, what it serves (`mlflow_api.read_server`)."""

from __future__ import annotations

import json
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url

from ansible_collections.mlops.mlflow.plugins.module_utils.errors import CollectionError
from ansible_collections.mlops.mlflow.plugins.module_utils.mlflow_api import MlflowApiError, read_server


class Server:
    """HTTP calls to one MLflow server with basic auth."""

    def __init__(self, params: dict):
        self.base = params["url"].rstrip("/")
        self.anonymous = dict(validate_certs=params["validate_certs"], ca_path=params["ca_path"],
                              timeout=params["timeout"])
        self.options = dict(self.anonymous, url_username=params["username"], url_password=params["password"],
                            force_basic_auth=True)

    def _call(self, path: str, options: dict, **request) -> str:
        try:
            return open_url(self.base + path, **request, **options).read().decode("utf-8")
        except HTTPError as exc:
            raise MlflowApiError(path, exc.code, exc.read().decode("utf-8", "replace")) from exc

    def get(self, path: str, authenticated: bool = True) -> str:
        return self._call(path, self.options if authenticated else self.anonymous, method="GET")

    def post(self, endpoint: str, body: dict) -> dict:
        return json.loads(self._call("/api/2.0/mlflow/%s" % endpoint, self.options, method="POST",
                                     data=json.dumps(body), headers={"Content-Type": "application/json"}))


def run_server_info(module) -> dict:
    params = module.params
    server = Server(params)
    url = params["url"]
    try:
        health = server.get("/health", authenticated=False).strip()
        version = server.get("/version").strip()
        result = read_server(server.post, version) if params["count"] else {"version": version}
    except MlflowApiError as exc:
        hint = " Check the admin username and password." if exc.status in (401, 403) else ""
        raise CollectionError("MLflow at %s answered %s with HTTP %s.%s" % (url, exc.endpoint, exc.status, hint),
                              status=exc.status) from None
    except (URLError, OSError, ValueError) as exc:
        raise CollectionError("MLflow at %s could not be reached: %s. Check the URL and that the server is running."
                              % (url, exc)) from None
    expected = (params["expected_version"] or "").lstrip("v")
    if expected and version != expected:
        raise CollectionError("MLflow at %s runs version %s, expected %s." % (url, version, expected), **result)
    return dict(result, changed=False, health=health)
