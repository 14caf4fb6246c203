"""deploy/prometheus and deploy/grafana agree with the metrics the code exports.

``promtool`` (Debian's ``prometheus`` package; ``make test`` installs it)
checks the rules and the scrape configuration; where it is missing the
check is skipped, except in CI. Every metric name in an alert rule or a
dashboard query must be one the processes export: a renamed metric would
otherwise leave an alert silently never firing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.files.metrics import FilesMetrics
from shared.metrics import OTHER, PREFIX, UPDATE_KINDS, Metrics, Service

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "alerts.yml"
SCRAPE = PROMETHEUS / "prometheus.yml"
RULE_TESTS = PROMETHEUS / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "telegram-bot.json"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
SERVICES: tuple[Service, ...] = ("ingress", "relay", "notifier", "files")

PROMETHEUS_OWN = frozenset({"up"})
"""Series Prometheus makes itself for every target."""

_DEFINED = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*f\"\{PREFIX\}(\w+)\"")
_SUFFIXES = {
    "Counter": ("_total",),
    "Gauge": ("",),
    "Histogram": ("_bucket", "_count", "_sum"),
    "Summary": ("_count", "_sum"),
}
CHECKED_LABELS = frozenset({"service", "kind", "reason", "stream_kind", "result", "action"})
"""Our labels, each with a closed list of values (``shared.metrics``)."""
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$service": ".*"}
_MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan"}
)


# --- what the code exports ------------------------------------------------------------


def _sample_names(registry: CollectorRegistry) -> set[str]:
    return {sample.name for family in registry.collect() for sample in family.samples}


def _defined_in_source() -> set[str]:
    """Series of metrics registered outside ``shared.metrics`` (the relay's wake-ups...)."""
    names: set[str] = set()
    for path in [*(ROOT / "shared").rglob("*.py"), *(ROOT / "services").rglob("*.py")]:
        if "fakes" in path.parts:
            continue
        for kind, name in _DEFINED.findall(path.read_text()):
            names.update(f"{PREFIX}{name}{suffix}" for suffix in _SUFFIXES[kind])
    return names


def label_values() -> dict[str, set[str]]:
    """Every value each of our labels can take, from the processes' own registries."""
    values: dict[str, set[str]] = {"kind": set(UPDATE_KINDS) | {OTHER}}
    for service in SERVICES:
        metrics = Metrics(service)
        if service == "files":
            FilesMetrics(metrics)
        for family in metrics.registry.collect():
            for sample in family.samples:
                for label, value in sample.labels.items():
                    values.setdefault(label, {OTHER}).add(value)
    return values


def unknown_label_values(expr: str, values: dict[str, set[str]]) -> set[str]:
    """``label="value"`` matchers of ours whose value no series ever has."""
    unknown = set()
    for label, op, value in _MATCHER.findall(expr):
        if label not in CHECKED_LABELS or "$" in value:
            continue
        alternatives = value.split("|") if op in ("=~", "!~") else [value]
        for alternative in alternatives:
            if re.fullmatch(r"\w+", alternative) and alternative not in values[label]:
                unknown.add(f"{label}={alternative}")
    return unknown


def exported() -> frozenset[str]:
    names: set[str] = set()
    for service in SERVICES:
        metrics = Metrics(service)
        if service == "files":
            FilesMetrics(metrics)
        names |= _sample_names(metrics.registry)
    return frozenset(names | _defined_in_source() | PROMETHEUS_OWN)


# --- what the files use -----------------------------------------------------------------


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, labels, keywords left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', "", expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]


# --- promtool -----------------------------------------------------------------------------


def promtool() -> str:
    """The ``promtool`` binary; skip without it, except in CI, where the check must run."""
    found = shutil.which("promtool")
    if found is None:
        reason = "promtool is not installed (Debian's prometheus package; make test installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must check the alert rules", pytrace=False)
        pytest.skip(reason)
    return found


def test_promtool_accepts_the_alert_rules() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_fire_on_the_series_their_unit_tests_feed_them() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROMETHEUS,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_rule_unit_tests_feed_only_exported_series() -> None:
    known = exported()
    document = yaml.safe_load(RULE_TESTS.read_text())
    fed = {
        series["series"].partition("{")[0]
        for test in document["tests"]
        for series in test.get("input_series", [])
    }
    assert fed - known == set()


def test_promtool_accepts_the_scrape_configuration_with_its_rules() -> None:
    done = subprocess.run(
        [promtool(), "check", "config", SCRAPE.name],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=PROMETHEUS,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- names ----------------------------------------------------------------------------------


def test_the_name_reader_finds_metrics_and_only_metrics() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, service) ("
        'rate(telegram_bot_delivery_latency_seconds_bucket{service=~"$service"}[5m])))'
        ' > 10 and on (service) absent(up{job="telegram-bot"} == 1)'
        " unless min_over_time(sum(telegram_bot_stream_pending)[15m:30s]) > 0.3 * process_open_fds"
    )
    assert metric_names(expr) == {
        "telegram_bot_delivery_latency_seconds_bucket",
        "up",
        "telegram_bot_stream_pending",
        "process_open_fds",
    }


def test_every_metric_an_alert_rule_reads_is_exported() -> None:
    known = exported()
    used = {name: rule["alert"] for rule in rules() for name in metric_names(rule["expr"])}
    assert {name for name in used if name.startswith(PREFIX)}, "no bot metric found in the rules"
    unknown = {name: alert for name, alert in used.items() if name not in known}
    assert unknown == {}


def test_every_metric_a_dashboard_panel_queries_is_exported() -> None:
    known = exported()
    queries = dashboard_queries()
    used = {name: title for title, expr in queries for name in metric_names(expr)}
    assert {name for name in used if name.startswith(PREFIX)}, "no bot metric in the dashboard"
    unknown = {name: title for name, title in used.items() if name not in known}
    assert unknown == {}


def test_every_label_value_the_rules_and_dashboard_match_is_one_a_series_has() -> None:
    values = label_values()
    exprs = [rule["expr"] for rule in rules()] + [expr for _title, expr in dashboard_queries()]
    assert {bad for expr in exprs for bad in unknown_label_values(expr, values)} == set()


def test_the_label_check_sees_a_value_no_series_has() -> None:
    values = label_values()
    expr = 'x{stream_kind="po_outputs", service=~"relay|ingres", job="any"}'
    assert unknown_label_values(expr, values) == {"stream_kind=po_outputs", "service=ingres"}


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    queries = []
    for index, (title, expr) in enumerate(dashboard_queries()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        queries.append({"record": f"dashboard:query_{index}", "expr": expr, "labels": {}})
        assert "$" not in expr, f"{title}: a Grafana variable the test does not know"
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": queries}]}))
    done = subprocess.run(
        [promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_severity_and_a_summary() -> None:
    incomplete = [
        rule["alert"]
        for rule in rules()
        if rule.get("labels", {}).get("severity") not in {"critical", "warning", "info"}
        or not rule.get("annotations", {}).get("summary")
    ]
    assert incomplete == []


def test_docs_operations_explains_every_alert() -> None:
    explained = set(re.findall(r"`(TelegramBot\w+)`", OPERATIONS.read_text()))
    assert {rule["alert"] for rule in rules()} - explained == set()


def test_every_dashboard_panel_has_a_unique_id() -> None:
    ids = [panel["id"] for panel in _panels(json.loads(DASHBOARD.read_text())["panels"])]
    assert len(ids) == len(set(ids))
