"""The affected users are the data subjects found in the leaked answers, never the `user` a
request claimed (issue 25: client-chosen user ids that exist in the directory were mailed
after approval). Matched against the directory's e-mail, phone and name; an identifier the
request itself held is the client's; the approver sees why each person is listed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from defib.actions.subjects import Person, SubjectIndex, name_key, phone_key
from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.playbooks.runs import RunStatus
from defib.store import impact as impact_repo
from defib.store import systems as systems_repo
from defib.systems.state import Capture
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer, MailPeer
from tests.support.engine import declare, only_run, wait_run

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

PEOPLE = [
    Person("alice", emails=("Alice@Corp.example",), names=("Alice Johnson",)),
    Person("bob", emails=("bob@corp.example",), phones=("+1 415 555 0142",)),
    Person("carol", emails=("carol@corp.example",)),
]


def test_the_directory_is_matched_by_email_phone_and_full_name() -> None:
    """Addresses casefolded, phones by digits whatever the formatting or country prefix,
    names as two or more words; each match says which identifier type it was."""
    index = SubjectIndex(PEOPLE)
    found = index.match(
        [("EMAIL", "alice@corp.EXAMPLE"), ("PHONE", "(415) 555-0142"), ("CREDIT_CARD", "4111")],
        sent="what is on file?",
    )
    assert found == {"alice": {"EMAIL"}, "bob": {"PHONE"}}
    assert index.match([("PERSON", "alice  johnson")], sent="") == {"alice": {"PERSON"}}
    assert name_key("Alice") is None and phone_key("12-34") is None


def test_an_identifier_the_request_held_is_the_clients_not_a_leak() -> None:
    """A client who puts someone's address or number in the prompt and has the model repeat
    it does not make that person affected (any formatting of it counts as held)."""
    index = SubjectIndex(PEOPLE)
    assert index.match([("EMAIL", "carol@corp.example")], sent="Repeat CAROL@corp.example") == {}
    assert index.match([("PHONE", "+1 (415) 555-0142")], sent="call 4155550142 back") == {}
    assert index.match([("PERSON", "Alice Johnson")], sent="Is alice johnson ok?") == {}


def test_nobody_outside_the_directory_and_no_user_id_is_matched() -> None:
    """Only directory identifiers match; a user id in the answer is no identifier."""
    index = SubjectIndex(PEOPLE)
    assert index.match([("EMAIL", "dave@corp.example"), ("PERSON", "alice")], sent="") == {}
    assert index.match([("EMAIL", "alice")], sent="") == {}


def _capture(i: int, *, prompt: str, response: str, user: str, masked: bool = False) -> Capture:
    return Capture(
        system="chat-api",
        version=None,
        at=datetime.now(UTC) - timedelta(minutes=1),
        request_id=f"r{i}",
        endpoint="chat",
        prompt=prompt,
        response=response,
        masked=masked,
        status_code=200,
        latency_ms=1,
        user_id=user,
        findings=({"detector": "pii", "entity": "EMAIL", "count": 1},) if masked else (),
    )


def events(rt: Runtime, incident_id: str, kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in rt.incidents.timeline(incident_id) if e.kind == kind]


def test_only_the_people_in_the_leaked_answers_are_mailed_and_the_approver_sees_why(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
    tmp_path: Path,
) -> None:
    """Mallory, in the directory, sends requests as herself, as Carol (whose address she
    also puts in the prompt) and as nobody; the model leaks Alice's address and Bob's phone.
    Alice and Bob are mailed after approval, with what matched; Mallory and Carol are not.
    Before issue 25 the requesters were the affected users."""
    playbook_dir(
        "name: t\napplies_to: [data_leak]\nsteps:\n"
        "  - {name: assess, action: assess_data_impact}\n"
        "  - {name: tell, action: notify_affected_users,"
        " approval: {required: true, role: responder}}\n"
    )
    directory = tmp_path / "people.yaml"
    directory.write_text(
        yaml.safe_dump(
            {
                "alice": "alice@corp.example",
                "bob": {"email": "bob@corp.example", "phone": "+1 415 555 0142"},
                "carol": {"email": "carol@corp.example", "name": "Carol Danvers"},
                "mallory": "mallory@corp.example",
            }
        )
    )
    config = systems_config(http_peer, mail_peer)
    config["notifications"]["affected_users"] = {"directory_file": str(directory)}
    rt = make_runtime(**config)
    with rt.db.write() as conn:
        systems_repo.insert_captures(
            conn,
            [
                _capture(0, prompt="who?", response="Mail alice@corp.example", user="mallory"),
                _capture(1, prompt="number?", response="Call (415) 555-0142", user="carol"),
                _capture(
                    2,
                    prompt="say carol@corp.example",
                    response="carol@corp.example",
                    user="carol",
                ),
                _capture(3, prompt="card?", response="4111 1111 1111 1111", user="mallory"),
                _capture(4, prompt="[MASKED]", response="[EMAIL]", user="mallory", masked=True),
            ],
        )
    start_worker(rt)
    inc = declare(rt, IncidentType.DATA_LEAK)
    run_id = only_run(rt, inc).id
    wait_run(rt, run_id, until=lambda r: r.steps[1].status is RunStatus.WAITING_APPROVAL)
    with rt.db.read() as conn:
        impact = impact_repo.get_impact(conn, rt.incidents.get(inc).seq)
    assert impact is not None
    assert impact["users"] == ["alice", "bob"] and impact["records"] == 5
    assert [(s["user_id"], s["matched_by"], s["records"]) for s in impact["subjects"]] == [
        ("alice", ["EMAIL"], 1),
        ("bob", ["PHONE"], 1),
    ]
    assert impact["subjects"][0]["record_refs"][0].startswith("capture:")
    matching = impact["matching"]
    assert matching["directory_people"] == 4 and matching["claimed_users_not_used"] == 2
    assert matching["unmatched_records"] == 2 and matching["masked_records"] == 1
    (waiting,) = events(rt, inc, "run_step_waiting_approval")
    assert "2 recipients at corp.example (2)" in waiting["asks"], waiting["asks"]
    assert "found in the leaked answers by EMAIL (1), PHONE (1)" in waiting["asks"]
    assert "2 user id(s) requests claimed are not used" in waiting["asks"]

    rt.engine.decide(run_id, 1, approve=True, actor="alice", role="responder", note=None)
    run = wait_run(rt, run_id)
    assert run.steps[1].status is RunStatus.SUCCEEDED, run.steps[1].error
    rcpts = sorted(r for m in mail_peer.mails for r in m.rcpt_tos)
    assert "mallory@corp.example" not in rcpts and "carol@corp.example" not in rcpts
    assert [r for r in rcpts if r in ("alice@corp.example", "bob@corp.example")] == [
        "alice@corp.example",
        "bob@corp.example",
    ]
    sent = {e["user_id"]: e["matched_by"] for e in events(rt, inc, "run_step_user_notified")}
    assert sent == {"alice": ["EMAIL"], "bob": ["PHONE"]}


def test_an_assessment_from_before_subject_matching_is_refused(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    mail_peer: MailPeer,
) -> None:
    """A stored assessment without `subjects` listed the requesters: it mails nobody."""
    playbook_dir(
        "name: t\napplies_to: [data_leak]\nsteps:\n"
        "  - {name: tell, action: notify_affected_users}\n"
    )
    config = systems_config(http_peer, mail_peer)
    config["notifications"]["affected_users"] = {"directory": {"mallory": "m@corp.example"}}
    rt = make_runtime(**config)
    inc = declare(rt, IncidentType.DATA_LEAK)
    with rt.db.write() as conn:
        impact_repo.set_impact(conn, rt.incidents.get(inc).seq, {"users": ["mallory"]})
    start_worker(rt)
    run = wait_run(rt, only_run(rt, inc).id)
    assert run.steps[0].status is RunStatus.FAILED
    assert "predates data-subject matching" in (run.steps[0].error or "")
    assert not [m for m in mail_peer.mails if "m@corp.example" in m.rcpt_tos]


def test_alert_samples_are_matched_and_what_their_prompt_held_is_not(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    tmp_path: Path,
) -> None:
    """A guardrail's samples: the answer leaking Alice's name and phone makes her affected;
    Carol's address in the prompt, repeated by the model, does not; the sample's `user_id`
    (Mallory) is counted, never listed."""
    playbook_dir(
        "name: t\napplies_to: [data_leak]\nsteps:\n  - {name: assess, action: assess_data_impact}\n"
    )
    # The inline directory holds addresses only; names and phones come from a file.
    people = tmp_path / "people.yaml"
    people.write_text(
        yaml.safe_dump({"alice": {"name": "Alice Johnson", "phone": ["+1 415 555 0199"]}})
    )
    directory = {"mallory": "mallory@corp.example", "carol": "carol@corp.example"}
    rt = make_runtime(
        notifications={"affected_users": {"directory": directory, "directory_file": str(people)}}
    )
    alert = {
        "source": "guardrails",
        "type": "data_leak",
        "title": "Customer data in replies",
        "systems": ["chat-api"],
        "severity": "critical",
        "samples": [
            {
                "prompt": "Write to CAROL@corp.example please",
                "response": "Done: carol@corp.example. Alice Johnson's number is 415.555.0199",
                "user_id": "mallory",
            }
        ],
    }
    start_worker(rt)
    (result,) = rt.intake.ingest(alert, None, "tester")
    assert result.incident_id is not None
    run = wait_run(rt, only_run(rt, result.incident_id).id)
    assert run.steps[0].status is RunStatus.SUCCEEDED, run.steps[0].error
    with rt.db.read() as conn:
        impact = impact_repo.get_impact(conn, rt.incidents.get(result.incident_id).seq)
    assert impact is not None
    assert impact["users"] == ["alice"], impact
    assert impact["subjects"][0]["matched_by"] == ["PERSON", "PHONE"]
    assert impact["subjects"][0]["record_refs"][0].endswith(":sample:0")
    assert impact["matching"]["claimed_users_not_used"] == 1
