"""Affected users' addresses come from the operator's directory, never the traffic (issue 11)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from defib.actions.base import ActionError
from defib.actions.recipients import resolve
from defib.config import load_settings
from defib.integrations.signing import verify
from tests.support.actions.peers import HttpPeer, Reply, Request


@dataclass
class DirectoryPeer(HttpPeer):
    """A lookup webhook: answers every user id ending in `-corp`, and one nobody asked for."""

    def respond(self, request: Request) -> Reply:
        asked = json.loads(request.body)["user_ids"]
        found = {u: f"{u}@corp.example" for u in asked if u.endswith("-corp")}
        found["intruder"] = "intruder@evil.example"  # never asked: must not become a recipient
        return 200, {"content-type": "application/json"}, json.dumps({"addresses": found}).encode()


@pytest.fixture
def directory_peer() -> Iterator[DirectoryPeer]:
    peer = DirectoryPeer().start()
    yield peer
    peer.stop()


def test_user_ids_are_keys_never_addresses(tmp_path: Path) -> None:
    mapping = tmp_path / "users.yaml"
    mapping.write_text("u-2: two@corp.example\nu-3: three@other.example\n")
    settings = load_settings(
        None,
        notifications={
            "affected_users": {
                "directory": {"u-1": "one@corp.example"},
                "directory_file": str(mapping),
            }
        },
    )
    found = resolve(settings, ["u-1", "u-2", "u-3", "mallory@evil.example"], "INC-1", {})
    assert dict(found.addresses) == {
        "u-1": "one@corp.example",
        "u-2": "two@corp.example",
        "u-3": "three@other.example",
    }
    assert list(found.unknown) == ["mallory@evil.example"]  # looks like an address: not used
    assert found.summary() == (
        "3 recipients at corp.example (2), other.example (1); "
        "1 user(s) not in the directory (not mailed)"
    )


def test_allowed_domains_refuse_addresses_elsewhere() -> None:
    settings = load_settings(
        None,
        notifications={
            "affected_users": {
                "directory": {"a": "a@corp.example", "b": "b@gmail.example"},
                "allowed_domains": ["@Corp.example"],
            }
        },
    )
    found = resolve(settings, ["a", "b"], "INC-1", {})
    assert dict(found.addresses) == {"a": "a@corp.example"}
    assert set(found.refused) == {"b"}


def test_the_lookup_webhook_is_signed_and_cannot_add_recipients(
    directory_peer: DirectoryPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(
        None,
        notifications={
            "affected_users": {
                "lookup_url": f"{directory_peer.url}/directory",
                "lookup_secret_env": "TEST_DIR_SECRET",
            }
        },
    )
    found = resolve(settings, ["x-corp", "y"], "INC-7", {"TEST_DIR_SECRET": "s3cret"})
    assert dict(found.addresses) == {"x-corp": "x-corp@corp.example"}
    assert list(found.unknown) == ["y"]
    (request,) = directory_peer.requests
    assert json.loads(request.body) == {"user_ids": ["x-corp", "y"], "incident": "INC-7"}
    assert verify(request.body, "s3cret", request.headers)
    directory_peer.default = 500
    directory_peer.respond = lambda r: (500, {}, b"")  # type: ignore[method-assign]
    with pytest.raises(ActionError, match="answered 500"):
        resolve(settings, ["z"], "INC-7", {"TEST_DIR_SECRET": "s3cret"})


def test_the_lookup_secret_comes_from_the_injected_secrets_not_the_process_environment(
    directory_peer: DirectoryPeer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_DIR_SECRET", "s3cret")
    settings = load_settings(
        None,
        notifications={
            "affected_users": {
                "lookup_url": f"{directory_peer.url}/directory",
                "lookup_secret_env": "TEST_DIR_SECRET",
            }
        },
    )
    with pytest.raises(ActionError, match="TEST_DIR_SECRET is not set"):
        resolve(settings, ["x-corp"], "INC-7", {})
    assert directory_peer.requests == []
