"""prometheus-msteams (adapter mode): its connector config and the Adaptive Card template it renders.

prometheus-msteams serves each connector at ``POST /<name>`` and, started with ``-workflow-webhook``, posts
what ``-template-file`` renders to a Teams Workflows URL. The template must produce the Workflows message
envelope ``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
...}]}``.

The template relies on prometheus-msteams' default ``-auto-escape-underscores=true``: label and annotation
values arrive JSON-escaped (and ``_`` as ``\\_``, a Markdown escape), so they are placed inside JSON strings
as they are. Links must therefore contain no ``_``: the Logs Insights link is encoded without one. Only
functions Alertmanager's own template engine has are used, so ``amtool template render`` checks it too.
"""

from __future__ import annotations

import yaml

CONNECTOR_NAME = "trailwatch"
#: Written instead of the real Workflows URL: the URL is a credential and never goes into rendered files.
WEBHOOK_PLACEHOLDER = "https://REPLACE-WITH-YOUR-TEAMS-WORKFLOWS-WEBHOOK-URL.invalid/"
TEMPLATE_NAME = "teams.card"

# Container style per state: Teams shows "attention" red, "warning" amber, "good" green, "accent" blue.
_CARD = r"""{{ define "teams.card" }}
{{- $style := "accent" -}}
{{- if eq .Status "resolved" -}}{{- $style = "good" -}}
{{- else if or (eq .CommonLabels.severity "critical") (eq .CommonLabels.severity "high") -}}{{- $style = "attention" -}}
{{- else if eq .CommonLabels.severity "warning" -}}{{- $style = "warning" -}}
{{- end -}}
{
  "type": "message",
  "attachments": [
    {
      "contentType": "application/vnd.microsoft.card.adaptive",
      "contentUrl": null,
      "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
          {
            "type": "Container",
            "style": "{{ $style }}",
            "bleed": true,
            "items": [
              {
                "type": "TextBlock",
                "size": "Large",
                "weight": "Bolder",
                "wrap": true,
                "text": "{{ if eq .Status "firing" }}FIRING{{ else }}RESOLVED{{ end }}{{ if .CommonLabels.severity }} {{ .CommonLabels.severity | toUpper }}{{ end }}: {{ if .CommonAnnotations.summary }}{{ .CommonAnnotations.summary }}{{ else }}{{ .CommonLabels.alertname }}{{ end }}"
              }
            ]
          }
          {{- range .Alerts }},
          {
            "type": "Container",
            "separator": true,
            "items": [
              {
                "type": "TextBlock",
                "wrap": true,
                "text": "{{ if .Annotations.description }}{{ .Annotations.description }}{{ else }}{{ .Labels.alertname }}{{ end }}"
              },
              {
                "type": "FactSet",
                "facts": [
                  {"title": "Status", "value": "{{ .Status }}{{ if .Labels.severity }} ({{ .Labels.severity }}){{ end }}"},
                  {"title": "Alert", "value": "{{ .Labels.alertname }}"}
                  {{- if .Labels.detection }},
                  {"title": "Detection", "value": "{{ .Labels.detection }}"}
                  {{- end }}
                  {{- if .Annotations.aws_account_id }},
                  {"title": "Account", "value": "{{ .Annotations.aws_account_id }}"}
                  {{- end }}
                  {{- if .Annotations.aws_region }},
                  {"title": "Region", "value": "{{ .Annotations.aws_region }}"}
                  {{- end }}
                  {{- if .Annotations.log_group }},
                  {"title": "Log group", "value": "{{ .Annotations.log_group }}"}
                  {{- end }}
                  {{- if .Annotations.compliance }},
                  {"title": "Compliance", "value": "{{ .Annotations.compliance }}"}
                  {{- end }},
                  {"title": "Since", "value": "{{ .StartsAt.UTC.Format "2006-01-02 15:04 MST" }}"}
                ]
              }
              {{- if .Annotations.runbook }},
              {
                "type": "TextBlock",
                "wrap": true,
                "text": "**Runbook:** {{ .Annotations.runbook }}"
              }
              {{- end }}
              {{- if .Annotations.logs_insights_url }},
              {
                "type": "ActionSet",
                "actions": [
                  {"type": "Action.OpenUrl", "title": "Open in CloudWatch Logs Insights", "url": "{{ .Annotations.logs_insights_url }}"}
                ]
              }
              {{- end }}
            ]
          }
          {{- end }}
        ]
      }
    }
  ]
}
{{ end }}
"""


def card_template() -> str:
    """The Go template file for prometheus-msteams ``-template-file`` (defines ``teams.card``)."""
    return _CARD


def connector_config(connector_name: str, webhook_url: str) -> str:
    """prometheus-msteams ``-config-file``: ``connectors: [{<name>: <Teams Workflows URL>}]``."""
    return yaml.safe_dump({"connectors": [{connector_name: webhook_url}]}, sort_keys=False, width=1_000_000)
