"""contrib/: the Prometheus rules and the Grafana dashboard only name series defib serves.

`promtool check rules` runs when promtool is installed (Debian: `prometheus`); set
DEFIB_TEST_REQUIRE_PROMTOOL=1 to make its absence a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from defib.store.database import Database
from defib.telemetry import Telemetry

ROOT = (Path(__file__).parents[2] / "test_contrib.py").resolve().parent.parent
RULES = ROOT / "contrib" / "prometheus" / "defib-alerts.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "defib-dashboard.json"
_NAME = re.compile(r"\bdefib_[a-z0-9_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


def _served_families(tmp_path: Path) -> set[str]:
    from defib.store import migrate

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(db)
    telemetry = Telemetry(db, cache_seconds=0)
    telemetry.alerts_received.labels("native", "created").inc()
    telemetry.alerts_rejected.labels("not_json").inc()
    telemetry.intake_errors.inc()
    telemetry.observe_gateway("s", 200, 0.1, 0.099)
    text = telemetry.render().decode()
    db.dispose()
    return {f.name for f in text_string_to_metric_families(text)}


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _expressions() -> list[str]:
    rules = yaml.safe_load(RULES.read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    dash = json.loads(DASHBOARD.read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p["targets"]]
    return exprs


def test_every_series_named_in_contrib_is_served(tmp_path: Path) -> None:
    served = _served_families(tmp_path)
    named = {_family(n) for e in _expressions() for n in _NAME.findall(e)}
    assert named, "no defib series found in contrib/"
    assert named <= served, f"not served: {sorted(named - served)}"


def test_rules_are_complete_alerts() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert len(rules) >= 10
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    assert len({r["alert"] for r in rules}) == len(rules)


def test_dashboard_file_is_what_the_builder_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "build_dashboard", DASHBOARD.with_name("build_dashboard.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert json.loads(DASHBOARD.read_text()) == module.build()


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("DEFIB_TEST_REQUIRE_PROMTOOL") == "1":
            pytest.fail("promtool required (apt-get install prometheus) but not found")
        pytest.skip("promtool not installed (Debian package `prometheus`)")
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
