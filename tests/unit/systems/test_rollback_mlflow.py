"""rollback_model against a real MLflow model registry (mlflow-skinny, SQLite backend)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from defib.bootstrap import Runtime
from defib.model import IncidentType
from defib.playbooks.runs import RunStatus
from defib.systems.control import ControlService, Owner
from defib.systems.state import VersionStatus
from tests.support.actions import systems_config
from tests.support.actions.peers import HttpPeer
from tests.support.engine import declare, only_run, wait_run

mlflow = pytest.importorskip("mlflow")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


def test_rollback_repoints_the_mlflow_alias_past_a_bad_version(
    make_runtime: Callable[..., Runtime],
    start_worker: Callable[[Runtime], None],
    playbook_dir: Callable[[str], Path],
    http_peer: HttpPeer,
    tmp_path: Path,
) -> None:
    """Versions 1..3, alias `production` on 3; 2 is marked bad, 1 good: the alias moves to
    1, 3 is marked bad, and the state records 1 as served."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("chat")
    for i in range(3):
        client.create_model_version("chat", source=str(tmp_path / f"model-{i}"))
    client.set_registered_model_alias("chat", "production", "3")

    playbook_dir(
        "name: t\napplies_to: [hallucination]\nsteps:\n  - {name: back, action: rollback_model}\n"
    )
    config = systems_config(http_peer, None)
    config["systems"][0]["registry"] = {"kind": "mlflow", "tracking_uri": uri, "model_name": "chat"}
    rt = make_runtime(**config)
    control = ControlService(rt.db)
    control.register_versions("chat-api", ["1", "2", "3"])
    control.mark_version("chat-api", "1", VersionStatus.GOOD, Owner("tester"))
    control.mark_version("chat-api", "2", VersionStatus.BAD, Owner("tester"))
    start_worker(rt)
    inc = declare(rt, IncidentType.HALLUCINATION)
    run = wait_run(rt, only_run(rt, inc).id, timeout=120)
    assert run.status is RunStatus.SUCCEEDED, run.steps[0].error
    assert client.get_model_version_by_alias("chat", "production").version in ("1", 1)
    versions = {v.name: v.status for v in control.versions("chat-api")}
    assert versions == {"1": VersionStatus.GOOD, "2": VersionStatus.BAD, "3": VersionStatus.BAD}
    state = control.state("chat-api")
    assert state is not None and state.active_version == "1"
    output = run.steps[0].output
    assert output is not None
    (done,) = output["systems"]
    assert (done["from_version"], done["to_version"]) == ("3", "1")
