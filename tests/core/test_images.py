"""Image references: an allowed version tag or a real sha256 digest; the config check and the policy agree."""

from __future__ import annotations

import pytest

from stacks import make_stack
from trailwatch.errors import ConfigError
from trailwatch.images import image_problem, is_pinned_image, split_reference

DIGEST = "sha256:" + "0123456789abcdef" * 4
PINNED = ["prom/cloudwatch-exporter:v0.18.0", "quay.io/prometheusmsteams/prometheus-msteams:v1.5.4",
          "localhost:5000/exporter:1.2.3", f"prom/cloudwatch-exporter@{DIGEST}",
          f"prom/cloudwatch-exporter:main@{DIGEST}"]
MUTABLE = ["prom/cloudwatch-exporter:main", "prom/cloudwatch-exporter:LATEST", "prom/cloudwatch-exporter:latest",
           "prom/cloudwatch-exporter@sha256:", "prom/cloudwatch-exporter@sha256:abc",
           f"prom/cloudwatch-exporter@sha256:{DIGEST[7:].upper()}", "prom/cloudwatch-exporter",
           "localhost:5000/exporter", "prom/cloudwatch-exporter:v0.18", ":v1.2.3", ""]


@pytest.mark.parametrize("image", PINNED)
def test_pinned_references(image):
    assert image_problem(image) is None and is_pinned_image(image)


@pytest.mark.parametrize("image", MUTABLE)
def test_mutable_references_are_refused_with_what_is_allowed(image):
    problem = image_problem(image)
    assert problem and not is_pinned_image(image)


def test_messages_say_what_is_allowed():
    assert "v?\\d+\\.\\d+\\.\\d+" in image_problem("x/y:main")
    assert "64 lower-case hex" in image_problem("x/y@sha256:")


def test_tag_pattern_is_configurable():
    assert image_problem("x/y:2024-01-02", r"\d{4}-\d{2}-\d{2}") is None
    assert image_problem("x/y:v1.2.3", r"\d{4}-\d{2}-\d{2}") is not None


def test_split_reference_keeps_registry_ports():
    assert split_reference("localhost:5000/a/b:v1.0.0") == ("localhost:5000/a/b", "v1.0.0", None)
    assert split_reference(f"a@{DIGEST}") == ("a", None, DIGEST)


@pytest.mark.parametrize("image", ["prom/cloudwatch-exporter:main", "prom/cloudwatch-exporter:LATEST",
                                   "prom/cloudwatch-exporter@sha256:"])
def test_config_check_refuses_what_the_policy_refuses(image):
    with pytest.raises(ConfigError, match="exporterImage.*must be pinned to a version tag such as v1.2.3"):
        make_stack(exporterImage=image)
