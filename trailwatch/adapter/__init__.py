"""trailwatch's Teams adapter: Alertmanager webhook (v4) in, one enriched Adaptive Card per notification out.

Modules: ``config`` (config file, secret files, CLI), ``webhook`` (payload validation, idempotency keys),
``enrich`` (FilterLogEvents behind an alert, allow-listed fields only), ``card`` (the Adaptive Card),
``delivery`` (posting to Teams: retries, pacing), ``server`` (the HTTP endpoints and metrics).
Run it with ``python -m trailwatch.adapter --help``.
"""

#: Where the adapter listens by default and the one path Alertmanager posts to (shared with the renderers and
#: the Pulumi component, which import these instead of repeating them).
PORT = 8080
ALERTS_PATH = "/alerts"
