"""The people:, schedules: and escalation_policies: sections: every error names its key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from defib.config import ConfigError, load_settings
from defib.oncall.config import directory

GOOD: dict[str, Any] = {
    "people": [
        {
            "name": "alice",
            "email": "alice@example.com",
            "slack_user": "U0ALICE",
            "webhook": "https://hooks.example.com/alice",
        },
        {"name": "bob"},
        {"name": "carol"},
    ],
    "schedules": [
        {
            "name": "ml-primary",
            "time_zone": "Europe/Berlin",
            "rotations": [{"people": ["alice", "bob"], "shift": "1w", "handoff": "monday 09:00"}],
        }
    ],
    "escalation_policies": [
        {
            "name": "ml-default",
            "repeat": 2,
            "levels": [
                {"after": "0s", "notify": [{"schedule": "ml-primary"}]},
                {"after": "10m", "notify": [{"person": "carol"}]},
            ],
        }
    ],
    "systems": [
        {"name": "support-bot", "owners": {"team": "support-ai", "escalation_policy": "ml-default"}}
    ],
}


def load(tmp_path: Path, config: dict[str, Any]) -> Any:
    path = tmp_path / "defib.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return load_settings(path, data_dir=tmp_path / "data")


def broken(tmp_path: Path, edit: Any) -> str:
    config = yaml.safe_load(yaml.safe_dump(GOOD))
    edit(config)
    with pytest.raises(ConfigError) as info:
        load(tmp_path, config)
    return str(info.value)


def test_the_issue_example_loads(tmp_path: Path) -> None:
    """The shape in the issue is the contract: it loads, and becomes domain values."""
    found = directory(load(tmp_path, GOOD))
    policy = found.policies["ml-default"]
    assert policy.repeat == 2 and policy.severities == ("SEV1", "SEV2")
    assert [t.label for lv in policy.levels for t in lv.notify] == [
        "schedule:ml-primary",
        "person:carol",
    ]
    assert found.schedules["ml-primary"].rotations[0].handoff_weekday == 0
    assert found.people["alice"].slack_user == "U0ALICE"


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (
            lambda c: c["schedules"][0]["rotations"][0]["people"].append("dave"),
            "schedules.0.rotations.0.people.2: 'dave' is not in people:",
        ),
        (
            lambda c: c["escalation_policies"][0]["levels"][1]["notify"].append({"person": "erin"}),
            "escalation_policies.0.levels.1.notify.1.person: 'erin' is not in people:",
        ),
        (
            lambda c: c["escalation_policies"][0]["levels"][0]["notify"].append({"schedule": "x"}),
            "escalation_policies.0.levels.0.notify.1.schedule: 'x' is not in schedules:",
        ),
        (
            lambda c: c["systems"][0]["owners"].update(escalation_policy="nope"),
            "systems.0.owners.escalation_policy: 'nope' is not in escalation_policies:",
        ),
        (
            lambda c: c.update(default_owners={"escalation_policy": "nope"}),
            "default_owners.escalation_policy: 'nope' is not in escalation_policies:",
        ),
        (
            lambda c: c["people"].append({"name": "bob"}),
            "people.3.name: 'bob' is already people.1.name",
        ),
        (
            lambda c: c["schedules"][0].update(time_zone="Mars/Olympus"),
            "schedules.0.time_zone: Value error, 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            lambda c: c["schedules"][0]["rotations"][0].update(shift="1 week"),
            "schedules.0.rotations.0.shift: Value error, '1 week' is not a duration",
        ),
        (
            lambda c: c["schedules"][0]["rotations"][0].update(shift="30m"),
            "schedules.0.rotations.0.shift: Value error, a shift is at least 1h",
        ),
        (
            lambda c: c["schedules"][0]["rotations"][0].update(handoff="funday 09:00"),
            "schedules.0.rotations.0.handoff: Value error, 'funday 09:00': 'funday' is not",
        ),
        (
            lambda c: c["escalation_policies"][0]["levels"][1].update(after="soon"),
            "escalation_policies.0.levels.1.after: Value error, 'soon' is not a duration",
        ),
        (
            lambda c: c["escalation_policies"][0]["levels"][1]["notify"][0].update(
                schedule="ml-primary"
            ),
            "escalation_policies.0.levels.1.notify.0: name exactly one of schedule or person",
        ),
        (
            lambda c: c["escalation_policies"][0].update(severities=["SEV9"]),
            "escalation_policies.0.severities: Value error, SEV9: not a severity",
        ),
        (
            lambda c: c["escalation_policies"][0].update(repeat=99),
            "escalation_policies.0.repeat: Input should be less than or equal to 10",
        ),
        (lambda c: c["people"][0].update(pager="555"), "people.0.pager: unknown key"),
        (lambda c: c["people"][0].update(email="not-an-address"), "people.0.email"),
    ],
)
def test_each_error_names_its_key(tmp_path: Path, edit: Any, key: str) -> None:
    """A bad value or a dangling reference stops the load with the exact key path."""
    assert key in broken(tmp_path, edit)


def test_a_person_may_have_a_pagerduty_routing_key(tmp_path: Path) -> None:
    config = yaml.safe_load(yaml.safe_dump(GOOD))
    config["people"][1]["pagerduty_routing_key"] = "R0BOBKEY"
    people = directory(load(tmp_path, config)).people
    assert people["bob"].pagerduty_routing_key == "R0BOBKEY"
    assert people["alice"].pagerduty_routing_key is None
    too_long = broken(tmp_path, lambda c: c["people"][1].update(pagerduty_routing_key="k" * 65))
    assert "people.1.pagerduty_routing_key" in too_long
