"""``demo``: the whole alert path on this machine (real Prometheus, Alertmanager and the Teams adapter, emulated
CloudWatch and Teams) on a CloudTrail sample; prints every card as text and writes the exact bodies.

A real Teams channel gets the cards too when its Workflows URL is in ``--teams-url-file`` or in the environment
variable ``TEAMS_WEBHOOK_URL`` (never on the command line: argv is visible to every user of the machine).

Exceptions: the bundled sample runs with the bundled one (its card shows the excepted count); ``--exceptions
FILE`` runs with the file's entries instead, on any events (an empty list: none).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..localrun import (
    DEMO_EXCEPTION_DAYS, MAX_MINUTES, TIME_SCALE, bundled_exceptions, default_events, load_exceptions,
    real_teams_url, run_demo,
)
from ..paths import DATA_ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=Path, default=default_events(DATA_ROOT), metavar="FILE",
                        help="CloudTrail records in any format `replay` reads (default: the bundled sample, "
                             "examples/demo/cloudtrail-sample.jsonl)")
    parser.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR",
                        help="where the card bodies go, as DIR/cards/card-NNN.json (default: demo-out; replaced "
                             "on every run)")
    parser.add_argument("--teams-url-file", type=Path, metavar="FILE",
                        help="file holding a real Teams Workflows URL: every card is posted there too "
                             "(or set TEAMS_WEBHOOK_URL)")
    parser.add_argument("--exceptions", type=Path, metavar="FILE",
                        help="noise exceptions for the demo stack: a YAML list of trailwatch:exceptions entries "
                             "(default: with the bundled sample, one bundled exception expiring in "
                             f"{DEMO_EXCEPTION_DAYS} days; with --events, none)")
    parser.add_argument("--no-outage", action="store_true",
                        help="skip the last step (CloudTrail delivery stops, the heartbeat card follows)")
    parser.epilog = (f"CloudWatch runs {TIME_SCALE}x faster than the wall clock; at most {MAX_MINUTES} minutes with "
                     "matches are replayed. Needs `make tools` (Prometheus and Alertmanager).")


def run(args: argparse.Namespace) -> int:
    url = real_teams_url(args.teams_url_file, dict(os.environ))
    if args.exceptions is not None:
        exceptions, where = load_exceptions(args.exceptions), f"--exceptions {args.exceptions}"
    else:
        exceptions = bundled_exceptions() if args.events == default_events(DATA_ROOT) else []
        where = "the bundled demo exception"
    result = run_demo(args.events, args.out, teams_url=url, outage=not args.no_outage, exceptions=exceptions,
                      exceptions_from=where, echo=lambda text: print(text, flush=True))
    posted = ""
    if url:
        posted = "; real Teams: " + ", ".join(f"{n} {reason}" for reason, n in sorted(result.posted.items()))
    print(f"demo: {len(result.cards)} card(s) written to {args.out / 'cards'}{posted}")
    return 0
