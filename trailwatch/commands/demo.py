"""``demo``: the whole alert path on this machine (real Prometheus, Alertmanager and the Teams adapter, emulated
CloudWatch and Teams) on a CloudTrail sample; prints every card as text and writes the exact bodies.

A real Teams channel gets the cards too when its Workflows URL is in ``--teams-url-file`` or in the environment
variable ``TEAMS_WEBHOOK_URL`` (never on the command line: argv is visible to every user of the machine).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..localrun.demo import MAX_MINUTES, TIME_SCALE, default_events, real_teams_url, run_demo
from ..stack import PROJECT_ROOT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=Path, default=default_events(PROJECT_ROOT), metavar="FILE",
                        help="CloudTrail records in any format `replay` reads (default: the bundled sample, "
                             "examples/demo/cloudtrail-sample.jsonl)")
    parser.add_argument("--out", type=Path, default=Path("demo-out"), metavar="DIR",
                        help="where the card bodies go, as DIR/cards/card-NNN.json (default: demo-out; replaced "
                             "on every run)")
    parser.add_argument("--teams-url-file", type=Path, metavar="FILE",
                        help="file holding a real Teams Workflows URL: every card is posted there too "
                             "(or set TEAMS_WEBHOOK_URL)")
    parser.add_argument("--no-outage", action="store_true",
                        help="skip the last step (CloudTrail delivery stops, the heartbeat card follows)")
    parser.epilog = (f"CloudWatch runs {TIME_SCALE}x faster than the wall clock; at most {MAX_MINUTES} minutes with "
                     "matches are replayed. Needs `make tools` (Prometheus and Alertmanager).")


def run(args: argparse.Namespace) -> int:
    url = real_teams_url(args.teams_url_file, dict(os.environ))
    result = run_demo(args.events, args.out, teams_url=url, outage=not args.no_outage,
                      echo=lambda text: print(text, flush=True))
    posted = ""
    if url:
        posted = "; real Teams: " + ", ".join(f"{n} {reason}" for reason, n in sorted(result.posted.items()))
    print(f"demo: {len(result.cards)} card(s) written to {args.out / 'cards'}{posted}")
    return 0
