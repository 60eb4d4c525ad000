"""The delivered ledger across restarts: what the state file keeps, and that a bad one never stops the adapter."""

from __future__ import annotations

import json
import logging
import os
import stat
import time

import pytest

from adapter_chain import chain_config
from trailwatch.adapter import __main__ as adapter_main
from trailwatch.adapter.state import MAX_FILE_BYTES, load_delivered, save_delivered
from trailwatch.adapter.webhook import DeliveryLedger

KEY_A, KEY_B, KEY_OLD = "a" * 64, "b" * 64, "c" * 64


def test_a_ledger_round_trips_through_its_file_and_forgets_what_has_expired(tmp_path):
    first = DeliveryLedger(ttl=60)
    for key in (KEY_A, KEY_B):
        assert first.claim(key)[0] == "new"
        first.finish(key, True, None)
    path = tmp_path / "ledger.json"
    assert save_delivered(path, {**first.delivered(), KEY_OLD: time.time() - 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = DeliveryLedger(ttl=60)
    second.remember(load_delivered(path))
    assert second.claim(KEY_A) == ("duplicate", None) and second.claim(KEY_B) == ("duplicate", None)
    assert second.claim(KEY_OLD)[0] == "new"  # expired before the restart: a new notification again
    assert 55 < min(second.delivered().values()) - time.time() <= 60


@pytest.mark.parametrize("content,why", [
    ("{not json", "Expecting property name"),
    (json.dumps({"version": 2, "delivered": {}}), "not a version 1 ledger"),
    (json.dumps([KEY_A]), "not a version 1 ledger"),
    ("x" * (MAX_FILE_BYTES + 1), f"larger than {MAX_FILE_BYTES} bytes"),
])
def test_a_bad_state_file_is_one_warning_and_an_empty_ledger(tmp_path, caplog, content, why):
    path = tmp_path / "ledger.json"
    path.write_text(content)
    with caplog.at_level(logging.WARNING, "trailwatch.adapter"):
        assert load_delivered(path) == {}
    (record,) = caplog.records
    assert why in record.getMessage() and "\n" not in record.getMessage()


def test_only_well_formed_keys_with_future_times_are_taken(tmp_path):
    path = tmp_path / "ledger.json"
    later = time.time() + 30
    path.write_text(json.dumps({"version": 1, "delivered": {
        KEY_A: later, "not-a-digest": later, KEY_B: "soon", KEY_OLD: True, "d" * 64: time.time() - 5}}))
    assert load_delivered(path) == {KEY_A: later}
    assert load_delivered(tmp_path / "absent.json") == {}


def test_an_unwritable_folder_is_one_error_line_and_no_partial_file(tmp_path, caplog):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # running as root: make the target a folder instead
            (folder / "ledger.json").mkdir()
        with caplog.at_level(logging.ERROR, "trailwatch.adapter"):
            assert save_delivered(folder / "ledger.json", {KEY_A: time.time() + 9}) is False
        assert len(caplog.records) == 1 and "not written" in caplog.records[0].getMessage()
        assert [p.name for p in folder.iterdir() if p.name.startswith(".ledger-")] == []
    finally:
        folder.chmod(0o700)


def test_a_state_file_in_a_missing_folder_is_refused_at_start(tmp_path, capsys):
    (tmp_path / "url").write_text("https://example.invalid/x\n")
    (tmp_path / "token").write_text("t" * 32 + "\n")
    (tmp_path / "config.json").write_text(json.dumps(chain_config()))
    code = adapter_main.main(["--config", str(tmp_path / "config.json"), "--webhook-url-file",
                              str(tmp_path / "url"), "--token-file", str(tmp_path / "token"),
                              "--state-file", str(tmp_path / "nowhere" / "ledger.json")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--state-file: folder" in err and "does not exist" in err
