"""PostgreSQL images and majors as CloudNativePG decides them (sandbox/controllers/cnpg_images.py)."""

from __future__ import annotations

import pytest

from sandbox.controllers.cnpg_images import (
    DEFAULT_IMAGE, cluster_image, major_of_image, operator_image, version_num)


@pytest.mark.parametrize("image, major", [
    ("ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie", 18),
    ("ghcr.io/cloudnative-pg/postgresql:17", 17),
    ("registry.local:5000/pg/postgresql:16.4@sha256:" + "a" * 64, 16),
])
def test_the_major_is_the_tag_s_version(image, major):
    assert major_of_image(image) == major


@pytest.mark.parametrize("image", ["registry.local:5000/pg/postgresql", "postgres:latest"])
def test_an_image_without_a_version_tag_is_refused(image):
    with pytest.raises(ValueError, match="cannot parse image name"):
        major_of_image(image)


class Client:
    def __init__(self, config=None):
        self.config = config

    def get(self, api_version, kind, namespace, name):
        return self.config if (kind, namespace, name) == ("ConfigMap", "cnpg-system",
                                                          "cnpg-controller-manager-config") else None


def test_the_operator_default_is_its_configuration_else_the_1_30_default():
    assert operator_image(Client()) == DEFAULT_IMAGE
    assert operator_image(Client({"data": {"POSTGRES_IMAGE_NAME": "x/postgresql:17.5"}})) == "x/postgresql:17.5"


def test_a_catalog_reference_gives_its_major_and_the_image_name_wins_over_the_default():
    catalog = {"spec": {"imageCatalogRef": {"kind": "ClusterImageCatalog", "name": "standard", "major": 16}}}
    assert cluster_image(catalog, DEFAULT_IMAGE)[1] == 16
    assert cluster_image({"spec": {"imageName": "x/postgresql:17.5"}}, DEFAULT_IMAGE) == ("x/postgresql:17.5", 17)
    assert cluster_image({"spec": {}}, "x/postgresql:17.5") == ("x/postgresql:17.5", 17)


def test_a_cluster_keeps_the_default_image_it_was_created_with_when_the_operator_default_moves():
    """CNPG's defaulting webhook writes the operator default into a new Cluster's spec (api/v1/cluster_defaults.go),
    so an operator upgrade that moves the default (17 -> 18 in 1.28) leaves existing Clusters on their image."""
    from types import SimpleNamespace  # pylint: disable=import-outside-toplevel

    from sandbox.controllers.cnpg_instance import ClusterRunner  # pylint: disable=import-outside-toplevel
    upgraded_operator = Client({"data": {"POSTGRES_IMAGE_NAME": DEFAULT_IMAGE}})
    created_before = SimpleNamespace(client=upgraded_operator, cluster={
        "spec": {}, "status": {"image": "ghcr.io/cloudnative-pg/postgresql:17.5-system-bookworm"}})
    created_after = SimpleNamespace(client=upgraded_operator, cluster={"spec": {}})
    assert ClusterRunner.requested_image(created_before)[1] == 17
    assert ClusterRunner.requested_image(created_after) == (DEFAULT_IMAGE, 18)


@pytest.mark.parametrize("image, major, expected", [
    ("ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie", 18, 180006),
    ("ghcr.io/cloudnative-pg/postgresql:17", 17, 170000),
    ("postgresql:17.2@sha256:" + "c" * 64, 17, 170002),
    # a catalog's major wins over a tag that says another (the image of an ImageCatalog entry)
    ("ImageCatalog/standard:16", 16, 160000),
])
def test_the_version_barman_records_is_the_images_server_version_num(image, major, expected):
    """barman writes the server's server_version_num into backup.info as `version` (barman/infofile.py)."""
    assert version_num(image, major) == expected
