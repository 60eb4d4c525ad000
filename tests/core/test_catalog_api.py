"""The catalog as data for consumers: list_detections / get_detection give plain mappings that round-trip."""

import json

import pytest
import yaml

from trailwatch.catalog import DEFAULT_CATALOG, get_detection, list_detections, load_catalog, parse_detection
from trailwatch.errors import CatalogError


def test_list_is_the_catalog_file_in_order_as_plain_data():
    listed = list_detections()
    assert [d["id"] for d in listed] == [d["id"] for d in yaml.safe_load(DEFAULT_CATALOG.read_text())["detections"]]
    assert json.loads(json.dumps(listed)) == listed
    for data, det in zip(listed, load_catalog()):
        assert parse_detection(data, "listed") == det


def test_get_returns_one_detection_and_names_the_known_ones_otherwise():
    assert get_detection("root_usage")["metric"] == "RootAccountUsage"
    with pytest.raises(CatalogError) as caught:
        get_detection("root_account_usage")
    message = str(caught.value)
    assert message.startswith("detection 'root_account_usage': not in the catalog (known: ") and "root_usage" in message
    assert "\n" not in message
