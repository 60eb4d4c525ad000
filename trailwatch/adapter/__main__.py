"""``python -m trailwatch.adapter``: start the Teams adapter; bad input exits 2 with one line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from ..contract import ADAPTER_DRAIN_SECONDS, ADAPTER_PORT
from .config import AdapterConfigError, Parser, load_config, read_token, read_webhook_url, without_urls

DEFAULT_LISTEN = f"0.0.0.0:{ADAPTER_PORT}"
#: Libraries whose debug output may carry request details: never below WARNING, whatever --log-level says.
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(prog="python -m trailwatch.adapter",
                                description="Alertmanager webhook (v4) -> enriched Adaptive Card -> Teams Workflows.")
    p.add_argument("--config", required=True, type=Path, help="adapter config JSON (python -m trailwatch render)")
    p.add_argument("--webhook-url-file", required=True, type=Path, help="file holding the Teams Workflows URL")
    p.add_argument("--token-file", required=True, type=Path,
                   help="file holding the bearer token Alertmanager sends (its credentials_file)")
    p.add_argument("--listen", default=DEFAULT_LISTEN, help=f"host:port to listen on (default {DEFAULT_LISTEN})")
    p.add_argument("--max-body-bytes", type=int, default=1024 * 1024, help="largest accepted request body")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    p.add_argument("--drain-seconds", type=float, default=ADAPTER_DRAIN_SECONDS,
                   help=f"on SIGTERM, how long deliveries in flight get to end (default {ADAPTER_DRAIN_SECONDS})")
    p.add_argument("--state-file", type=Path,
                   help="where the delivered-notification ledger is kept across restarts (written on SIGTERM "
                        "after the drain, read at start); without it a restart forgets what was delivered")
    return p.parse_args(argv)


def split_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise AdapterConfigError(f"--listen: must be host:port with a port 1-65535 (got {value!r})")
    return host.strip("[]") or "0.0.0.0", int(port)


def logs_client(region: str, timeout: float):
    """A CloudWatch Logs client that fails fast: one attempt per call, bounded connect and read times.

    Credentials and endpoint come from the usual AWS chain (IRSA web identity, instance role,
    ``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``...)."""
    import boto3
    from botocore.config import Config

    return boto3.client("logs", region_name=region, config=Config(
        connect_timeout=2, read_timeout=timeout, retries={"total_max_attempts": 1, "mode": "standard"}))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
        url = read_webhook_url(args.webhook_url_file)
        token = read_token(args.token_file)
        host, port = split_listen(args.listen)
        if args.max_body_bytes < 1024:
            raise AdapterConfigError(f"--max-body-bytes: must be at least 1024 (got {args.max_body_bytes})")
        if args.state_file is not None and not args.state_file.parent.is_dir():
            raise AdapterConfigError(f"--state-file: folder {str(args.state_file.parent)!r} does not exist")
    except AdapterConfigError as exc:
        print(f"trailwatch adapter: {without_urls(str(exc))}", file=sys.stderr)
        return 2
    from .delivery import Teams
    from .server import Adapter, Metrics, serve
    from .state import load_delivered, save_delivered

    metrics = Metrics()
    teams = Teams(url, config.delivery_budget_seconds,
                  on_retry=lambda reason: metrics.retries.labels(reason).inc())
    adapter = Adapter(config, token, teams, logs_client(config.region, config.enrich_budget_seconds), metrics)
    log = logging.getLogger("trailwatch.adapter")
    if args.state_file is not None:
        remembered = load_delivered(args.state_file)
        adapter.ledger.remember(remembered)
        log.info("%d delivered notification(s) remembered from %r", len(remembered), str(args.state_file))
    try:
        server = serve(adapter, host, port, args.max_body_bytes)
    except OSError as exc:
        print(f"trailwatch adapter: --listen {host}:{port}: cannot listen ({exc.strerror})", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    log.info("listening on %s:%d for stack %s (%d detections, log group %s)", host, port, config.stack,
             len(config.detections), config.log_group)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()  # stop accepting: new connections are refused, Alertmanager retries elsewhere
    log.info("stopping: draining deliveries in flight (at most %g s)", args.drain_seconds)
    left = server.drain(args.drain_seconds)
    if args.state_file is not None:
        delivered = adapter.ledger.delivered()
        if save_delivered(args.state_file, delivered):
            log.info("%d delivered notification(s) kept in %r", len(delivered), str(args.state_file))
    if left:
        log.warning("stopped with %d delivery(ies) or request(s) still in flight", left)
    else:
        log.info("stopped: nothing in flight")
    return 0


if __name__ == "__main__":
    sys.exit(main())
