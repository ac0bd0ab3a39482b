"""`amtool alert query` lists defib's alerts (GET /api/v2/alerts) with Alertmanager's
filter semantics, against a real `defib serve` (amtool from Debian's package)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from defib.api.am_alerts import Query, labels_of, listed
from defib.silences import Silence, parse_matchers
from defib.testing import ServerProcess
from tests.e2e.silences import test_amtool
from tests.e2e.silences.test_amtool import Amtool, _alert, _token

# The same `defib serve` per backend as the silence tests (amtool skips if missing).
server = test_amtool.server


def _query(amtool: Amtool, *args: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(amtool("alert", "query", "-o", "json", *args).stdout)
    return out


def test_amtool_alert_query_lists_filters_and_marks_silenced(server: ServerProcess) -> None:
    token = _token(server)
    amtool = Amtool(server, token)
    _alert(
        server, token, type="toxicity", title="Toxic replies", systems=["chat-api"], dedup_key="t"
    )
    _alert(
        server,
        token,
        type="hallucination",
        title="Made-up refunds",
        systems=["search-api"],
        dedup_key="h",
    )
    everything = _query(amtool)
    names = sorted(a["labels"]["alertname"] for a in everything)
    assert names == ["Made-up refunds", "Toxic replies"]
    toxic = next(a for a in everything if a["labels"]["type"] == "toxicity")
    assert toxic["labels"]["system"] == "chat-api" and toxic["labels"]["incident"] == "INC-1"
    assert toxic["status"]["state"] == "active" and toxic["receivers"] == [{"name": "defib"}]
    # Matchers as amtool sends them: equality, regex, the bare alertname shorthand.
    assert [a["labels"]["alertname"] for a in _query(amtool, "system=chat-api")] == [
        "Toxic replies"
    ]
    assert len(_query(amtool, "type=~toxicity|hallucination")) == 2
    assert [a["labels"]["type"] for a in _query(amtool, "Made-up refunds")] == ["hallucination"]
    assert _query(amtool, "system=nowhere") == []
    # A silence made afterwards mutes chat-api's alert: hidden by default, shown with -s.
    silence_id = amtool(
        "silence", "add", "system=chat-api", "type=toxicity", "--duration=1h", "--comment=known"
    ).stdout.strip()
    assert [a["labels"]["type"] for a in _query(amtool)] == ["hallucination"]
    muted = [a for a in _query(amtool, "--silenced") if a["status"]["state"] == "suppressed"]
    assert [a["status"]["silencedBy"] for a in muted] == [[silence_id]]
    plain = amtool("alert", "query").stdout
    assert "Made-up refunds" in plain and "Toxic replies" not in plain


NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _row(**over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "received_at": NOW,
        "source": "alertmanager",
        "action": "created",
        "type": "data_leak",
        "severity": "SEV1",
        "incident_seq": 4,
        "affected_systems": ["support-bot"],
        "payload": {
            "labels": {"alertname": "PII", "severity": "critical", "team": "ml"},
            "annotations": {"summary": "emails in answers"},
            "generatorURL": "https://prom.example/graph",
        },
    }
    return row | over


def test_defib_labels_win_and_the_newest_row_of_a_label_set_is_listed() -> None:
    labels = labels_of(_row())
    assert labels == {
        "alertname": "PII",
        "severity": "SEV1",
        "team": "ml",
        "type": "data_leak",
        "system": "support-bot",
        "incident": "INC-4",
    }
    later = _row(received_at=NOW.replace(hour=4))
    [one] = listed([_row(), later], [], NOW)
    assert one.starts_at == NOW and one.updated_at == later["received_at"]
    assert one.generator_url == "https://prom.example/graph"


@pytest.mark.parametrize(
    ("query", "kept"),
    [
        (Query(), True),
        (Query(active=False), False),
        (Query(receiver="def.*"), True),
        (Query(receiver="team-x"), False),
        (Query(filters=parse_matchers(['team="ml"'])), True),
        (Query(filters=parse_matchers(['team!="ml"'])), False),
    ],
)
def test_query_parameters_filter_as_alertmanager_does(query: Query, kept: bool) -> None:
    [alert] = listed([_row()], [], NOW)
    assert query.keeps(alert) is kept


def test_a_silenced_alert_is_suppressed_and_hidden_without_silenced() -> None:
    silence = Silence(
        id="s1",
        matchers=parse_matchers(["team=ml"]),
        starts_at=NOW.replace(hour=0),
        ends_at=NOW.replace(hour=9),
        created_by="a",
        comment="",
        updated_at=NOW,
    )
    [alert] = listed([_row()], [silence], NOW)
    assert alert.state == "suppressed" and alert.silenced_by == ["s1"]
    assert Query().keeps(alert) and not Query(silenced=False).keeps(alert)
