"""Secrets given to the wrong option are never echoed, and no option is taken by abbreviation."""

from __future__ import annotations

import subprocess
import sys

import pytest

from trailwatch.adapter import without_urls

WORKFLOW = ("https://prod-00.westus.logic.azure.com:443/workflows/0123/triggers/manual/paths/invoke"
            "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=NOT-A-REAL-SIGNATURE")


@pytest.mark.parametrize("argv", [
    ["-m", "trailwatch", "demo", "--teams-url", WORKFLOW],            # an abbreviation of --teams-url-file
    ["-m", "trailwatch", "demo", "--teams-url-file", WORKFLOW, "--no-such-option"],
    ["-m", "trailwatch.adapter", "--webhook-url", WORKFLOW],           # an abbreviation of --webhook-url-file
])
def test_a_url_on_the_wrong_option_is_refused_without_echoing_it(argv):
    run = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "sig=" not in run.stderr + run.stdout and "logic.azure.com" not in run.stderr + run.stdout
    assert run.stderr.strip().splitlines()[-1].startswith(("error:", "usage:")) or "error:" in run.stderr


def test_only_urls_that_can_carry_a_credential_are_hidden():
    assert without_urls(f"bad value {WORKFLOW}") == "bad value <URL not shown>"
    assert without_urls("got 'http://user:pw@host/x'") == "got '<URL not shown>'"
    kept = "must be an http:// or https:// URL, e.g. http://trailwatch-adapter:8080/alerts; s3://bucket/AWSLogs/"
    assert without_urls(kept) == kept
