"""The taxonomy catalogue and the mapping: defaults per type, refined by evidence."""

from __future__ import annotations

import pytest

from defib.taxonomy import FRAMEWORKS, edited, load_catalogue, map_incident


def test_catalogue_names_its_sources_and_the_whole_owasp_list() -> None:
    cat = load_catalogue()
    assert set(cat.sources) == set(FRAMEWORKS)
    assert cat.sources["owasp_llm"].version == "2025"
    assert list(cat.entries["owasp_llm"]) == [f"LLM{n:02d}" for n in range(1, 11)]
    assert len(cat.entries["nist_ai_600_1"]) == 12  # NIST AI 600-1 section 2


@pytest.mark.parametrize(
    ("kind", "owasp", "nist"),
    [
        ("data_leak", ["LLM02"], ["data_privacy"]),
        ("hallucination", ["LLM09"], ["confabulation", "information_integrity"]),
        ("toxicity", [], ["dangerous_content", "obscene_content"]),
        ("bias", [], ["harmful_bias"]),
    ],
)
def test_defaults_per_type(kind: str, owasp: list[str], nist: list[str]) -> None:
    m = map_incident(kind, ["nothing special"])
    assert list(m.ids["owasp_llm"]) == owasp
    assert list(m.ids["nist_ai_600_1"]) == nist
    assert m.basis == (f"default:{kind}",)


def test_evidence_refines_a_leak_into_system_prompt_leakage_via_jailbreak() -> None:
    m = map_incident("data_leak", ["Model revealed its System Prompt after a jailbreak"])
    assert m.ids["owasp_llm"] == ("LLM02", "LLM01", "LLM07")
    assert "AML.T0054" in m.ids["mitre_atlas"]
    assert "AML.T0056" in m.ids["mitre_atlas"]
    assert any(b.startswith("evidence:system_prompt") for b in m.basis)


def test_prompt_injection_maps_to_llm01_and_atlas_t0051() -> None:
    m = map_incident("toxicity", ['{"reason": "prompt injection in retrieved page"}'])
    assert m.ids["owasp_llm"] == ("LLM01",)
    assert "AML.T0051" in m.ids["mitre_atlas"]


def test_an_edit_names_unknown_ids() -> None:
    with pytest.raises(ValueError, match="LLM11"):
        edited({"owasp_llm": ["LLM11"]}, "alice", "2026-01-01T00:00:00+00:00")
    ok = edited({"owasp_llm": ["LLM02", "LLM02"]}, "alice", "t")
    assert ok.ids["owasp_llm"] == ("LLM02",)
    assert ok.basis == ("edited",)
