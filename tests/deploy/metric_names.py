"""Which metrics the Prometheus rules and Grafana dashboards read.

``metric_names(expr)`` pulls the metric names out of one PromQL expression (Grafana variables
allowed). ``used_metric_names(repo_root)`` applies it to every ``expr`` in
``deploy/prometheus/rules/*.yml`` and every panel target in ``deploy/grafana/dashboards/*.json``
and says where each name is used, leaving out what Prometheus itself produces: ``up`` and the
names our recording rules define (``recorded_names``). A test that scrapes the running services
can then assert that every name in ``used_metric_names`` is exposed by one of them.

Counters appear as written in the expression (``herald_dead_letters_total``), histograms by the
series read (``herald_message_handle_seconds_bucket``). The extraction is lexical, not a PromQL
parser: it does not see a name given only as ``{__name__="..."}``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

RULES_DIR = Path("deploy/prometheus/rules")
DASHBOARDS_DIR = Path("deploy/grafana/dashboards")

# Metrics Prometheus produces for every target, not the services.
PROMETHEUS_METRICS = frozenset({"up"})

# Aggregators, binary-operator keywords, modifiers and literals: words in an expression that are
# not metric names even where no "(" follows them.
KEYWORDS = frozenset(
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile", "limitk", "limit_ratio",
        "and", "or", "unless", "atan2", "bool",
        "by", "without", "on", "ignoring", "group_left", "group_right", "offset",
        "inf", "nan",
    }
)  # fmt: skip

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_COMMENT = re.compile(r"#[^\n]*")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\[\[[^\]]*\]\]|\$\w+")
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", re.IGNORECASE
)
# A number or duration: 0.95, 1e-3, 0x1f, 5m, 1h30m (trailing letters eaten with it).
_NUMBER = re.compile(r"(?<![\w:])(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\w*")
_IDENTIFIER = re.compile(r"(?<![\w:])[A-Za-z_:][\w:]*")
_FUNCTION_CALL = re.compile(r"\s*\(")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects, e.g. ``{"herald_jobs"}`` for
    ``max by (status) (herald_jobs{status!="cancelled"})``.

    Label matchers, ranges, grouping label lists, strings, numbers, durations, Grafana variables
    (``$__rate_interval``, ``${platform}``), functions (a word followed by ``(``) and keywords
    are dropped; what is left are the selectors' names.
    """
    text = _STRING.sub(" ", expr)  # first: strings may hold any of the characters below
    text = _COMMENT.sub(" ", text)
    text = _GRAFANA_VARIABLE.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        word = match.group()
        if word.lower() in KEYWORDS or _FUNCTION_CALL.match(text, match.end()):
            continue
        names.add(word)
    return names


def _rule_files(repo_root: Path) -> list[Path]:
    return sorted(
        path
        for path in (repo_root / RULES_DIR).glob("*.yml")
        if not path.name.endswith(".test.yml")
    )


def _rules(repo_root: Path) -> list[tuple[Path, dict[str, Any]]]:
    found: list[tuple[Path, dict[str, Any]]] = []
    for path in _rule_files(repo_root):
        document = yaml.safe_load(path.read_text())
        for group in document["groups"]:
            found.extend((path, rule) for rule in group["rules"])
    return found


def recorded_names(repo_root: Path) -> set[str]:
    """The names our recording rules define: Prometheus computes them, no service exposes them."""
    return {rule["record"] for _, rule in _rules(repo_root) if "record" in rule}


def _rule_uses(repo_root: Path) -> list[tuple[str, str]]:
    """(expression, where) per rule; where reads like ``herald.yml: alert HeraldOutboxLag``."""
    uses: list[tuple[str, str]] = []
    for path, rule in _rules(repo_root):
        kind = "alert" if "alert" in rule else "record"
        uses.append((str(rule["expr"]), f"{path.name}: {kind} {rule[kind]}"))
    return uses


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Panels, including those nested in collapsed rows."""
    flat: list[dict[str, Any]] = []
    for panel in panels:
        flat.append(panel)
        flat.extend(_panels(panel.get("panels", [])))
    return flat


def _dashboard_uses(repo_root: Path) -> list[tuple[str, str]]:
    """(expression, where) for every panel target, where reads like ``Herald / Alerts: Open``."""
    uses: list[tuple[str, str]] = []
    for path in sorted((repo_root / DASHBOARDS_DIR).glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in _panels(dashboard.get("panels", [])):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    uses.append((target["expr"], f"{dashboard['title']}: {panel['title']}"))
    return uses


def used_metric_names(repo_root: Path) -> dict[str, set[str]]:
    """Each metric name the rules and dashboards read, mapped to the places that read it.

    ``repo_root`` is the repository's top folder. Names produced by Prometheus (``up``, our
    recording rules) are left out: every name returned should be exposed by a Herald service.
    """
    produced_by_prometheus = PROMETHEUS_METRICS | recorded_names(repo_root)
    used: dict[str, set[str]] = {}
    for expr, where in _rule_uses(repo_root) + _dashboard_uses(repo_root):
        for name in metric_names(expr) - produced_by_prometheus:
            used.setdefault(name, set()).add(where)
    return used
