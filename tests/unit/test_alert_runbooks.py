"""Every alert rule links a runbook that exists and says what the alert means and what to do."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_alert_has_its_runbook() -> None:
    rules = yaml.safe_load((ROOT / "ops/prometheus/alerts.yml").read_text())
    alerts = [r for group in rules["groups"] for r in group["rules"] if "alert" in r]
    assert alerts
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url == f"docs/runbooks/{alert['alert']}.md"
        text = (ROOT / url).read_text()
        assert "**What it means.**" in text and "**What to do.**" in text, url
        assert alert["labels"]["severity"] in ("page", "ticket")
