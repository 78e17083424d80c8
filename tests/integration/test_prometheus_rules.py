"""The shipped alerting rules: valid for Prometheus, and each alert fires when, and only when,
its unit tests say (``tests/prometheus/alerts_test.yml``, run by ``promtool test rules``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.prometheus import promtool

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = ROOT / "tests" / "prometheus" / "alerts_test.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"


def test_the_rules_pass_promtool_check() -> None:
    done = promtool("check", "rules", str(RULES))

    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_passes_its_unit_tests() -> None:
    done = promtool("test", "rules", str(RULE_TESTS))

    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_unit_test() -> None:
    alerts = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
    }
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    }

    assert alerts - tested == set()


def test_the_compose_prometheus_config_loads_the_rules() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())

    assert "alerts.yml" in config["rule_files"]
    done = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
