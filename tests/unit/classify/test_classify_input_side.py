"""Sensitive data caught on the input side is an attempt, not an exposure (issue 31).

A data_leak is SEV1 by policy and pages security. Sensitive data a guardrail, scanner or
gateway caught in what a user sent (a prompt, an input, a request, a user message) and
blocked, masked, rejected or replaced before the model saw it never got out: no incident,
whatever verb the tool uses and however it says the cleaned text went on to the model. It
is a leak as soon as the text says the data reached an output, a response, a log or a third
party, or that the containment failed; and data the model itself produced is a leak even
when a scanner caught it afterwards.

The first two cases of each list are the audit's probes (/tmp/audit31/probe.jsonl, issue 31
audit), the others are variants written for these tests.
"""

from __future__ import annotations

import pytest

from defib.classify import Classifier, analyse
from defib.classify.exposure import contained_before_model, reports_exposure
from defib.classify.text import normalise_text
from defib.intake.formats import parse_payload
from defib.model import Alert, IncidentType, Severity

T = IncidentType


def _native(title: str, description: str, severity: str = "warning") -> Alert:
    return Alert(source="guardrail", title=title, description=description, severity=severity)


# (title, description, source severity): sensitive data caught in what users sent.
INPUT_SIDE = [
    (
        "LLM Guard Anonymize scanner triggered",
        "The Anonymize input scanner replaced PII (email, phone) in 18 user prompts before "
        "they were sent to the model.",
        "low",
    ),
    (
        "Guardrail intervened: sensitive information in input",
        "InvocationsIntervened with SensitiveInformationPolicy on source INPUT: 31 prompts "
        "with SSNs were blocked.",
        "warning",
    ),
    (
        "Prompt rejected by DLP policy",
        "12 user messages were rejected because they contained credit card numbers.",
        "warning",
    ),
    (
        "Gateway denied requests carrying secrets",
        "5 requests were denied: an API key was found in the request body and the requests "
        "were refused before reaching the LLM.",
        "high",
    ),
    (
        "Input sanitizer active",
        "The input sanitizer scrubbed email addresses and phone numbers from 40 user queries; "
        "the sanitized prompts were then passed to the model.",
        "warning",
    ),
    (
        "PII redacted in incoming requests",
        "Presidio redacted personal data in 73 requests; the redacted requests were forwarded "
        "to the model.",
        "warning",
    ),
    (
        "Secrets dropped from prompts",
        "The prompt filter dropped AWS access keys from 3 user inputs and masked the "
        "remaining credentials before they were sent to the LLM.",
        "critical",
    ),
]


@pytest.mark.parametrize(("title", "description", "severity"), INPUT_SIDE)
def test_sensitive_data_contained_on_the_input_side_is_no_incident(
    title: str, description: str, severity: str
) -> None:
    d = Classifier().decide(_native(title, description, severity))
    assert d.type is None, d.reason
    assert d.severity is None


# Counter-cases: the same vocabulary, but the data got out (or the model produced it).
LEAKS = [
    (
        "LLM Guard Sensitive output scanner",
        "The Sensitive output scanner found an email address and a credit card number in 3 "
        "model outputs.",
        "medium",
    ),
    (
        "Data exfiltration attempt detected",
        "The guardrail detected an agent tool call that tried to send the customer table to an "
        "external URL; the call was allowed and 2,000 records were sent.",
        "high",
    ),
    (
        "PII masked in prompts, raw prompt logged",
        "The input scanner masked SSNs in 9 user prompts, but the unmasked prompts were written "
        "to the application logs.",
        "warning",
    ),
    (
        "Redaction failed on user input",
        "Masking of PII in user prompts failed: 14 prompts with email addresses were sent to a "
        "third-party API unredacted.",
        "warning",
    ),
    (
        "Response blocked: another customer's data",
        "The output guardrail blocked 2 responses that contained another customer's email address.",
        "low",
    ),
]


@pytest.mark.parametrize(("title", "description", "severity"), LEAKS)
def test_data_that_reached_an_output_a_log_or_a_third_party_is_still_a_leak(
    title: str, description: str, severity: str
) -> None:
    d = Classifier().decide(_native(title, description, severity))
    assert (d.type, d.severity) == (T.DATA_LEAK, Severity.SEV1), d.reason


@pytest.mark.parametrize(("title", "description", "severity"), INPUT_SIDE)
def test_the_input_side_reading_names_each_probe(
    title: str, description: str, severity: str
) -> None:
    assert contained_before_model(normalise_text(f"{title}\n{description}"))


@pytest.mark.parametrize(("title", "description", "severity"), LEAKS)
def test_the_input_side_reading_leaves_exposures_alone(
    title: str, description: str, severity: str
) -> None:
    assert not contained_before_model(normalise_text(f"{title}\n{description}"))


def test_input_side_pii_in_a_bedrock_style_pagerduty_alarm_is_no_incident() -> None:
    """The same reading holds when the words arrive as PagerDuty custom details."""
    payload = {
        "routing_key": "r",
        "event_action": "trigger",
        "dedup_key": "gr-input",
        "payload": {
            "summary": "Guardrail intervened: sensitive information in input",
            "source": "bedrock-guardrail",
            "severity": "warning",
            "custom_details": {
                "description": "SensitiveInformationPolicy on source INPUT: 31 prompts with "
                "SSNs were masked before the model was invoked."
            },
        },
    }
    (alert,) = parse_payload(payload)
    assert Classifier().decide(alert).type is None


def test_another_type_with_its_own_evidence_survives_the_input_side_reading() -> None:
    """A jailbreak caught together with masked PII is still a jailbreak (toxicity): only
    the data_leak reading is set aside."""
    a = _native(
        "Jailbreak attempts blocked on input",
        "Prompt Shields blocked 30 jailbreak attempts; PII in those prompts was masked "
        "before they were sent to the model.",
    )
    assert Classifier().decide(a).type is T.TOXICITY


def test_a_rule_decided_leak_needs_exposed_data_in_the_text() -> None:
    """The rules can reach data_leak from a word about the machinery ("tenant isolation
    controller"); without any word for exposed data the next reading is taken, as the
    backstop's answers already are."""
    a = _native("Tenant isolation controller restarted", "Pod restarted 3 times in 10 minutes.")
    assert not reports_exposure(normalise_text(f"{a.title}\n{a.description}"))
    d = Classifier().decide(a)
    assert d.type is T.AVAILABILITY, d.reason
    assert "data_leak set aside" in analyse(a).reason


def test_a_rule_decided_leak_with_exposed_data_is_kept() -> None:
    a = _native("Cross-tenant data exposure", "Tenant B's records were returned to tenant A.")
    assert Classifier().decide(a).type is T.DATA_LEAK


def test_an_input_scanner_that_keeps_prompts_free_of_sensitive_data_is_no_incident() -> None:
    """ "Free of" / "cleared of" is what an input scanner guarantees: containment, said the
    other way round (the reading was widened after the second held-out group's LLM Guard
    Anonymize alert, pub2-017; this wording is ours)."""
    a = _native(
        "Input PII scanner: 12 requests flagged",
        "The scanner checks incoming user messages and makes sure they are cleared of "
        "personal data before they are sent to the LLM.",
    )
    assert Classifier().decide(a).type is None


def test_the_gate_and_the_new_rules_keep_trigger_words() -> None:
    """Every alert pays for a rule without trigger words (it is tried on the whole text): an
    optional first letter ("e-?mail") once made the gate such a rule, ~+30 us per alert."""
    from defib.classify import RuleSet

    rules = {r.id: r for r in RuleSet.default().rules}
    for rule_id in (
        "none.sensitive-data-contained",
        "availability.failures",
        "performance.utilisation-metric",
    ):
        assert rules[rule_id].triggers is not None, rule_id
