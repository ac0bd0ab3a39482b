"""Playbooks: the YAML format, the `when` condition language, and loading the built-ins.

This layer is pure: no database, no DBOS, no HTTP. The engine runs a playbook's frozen
copy (`Playbook.freeze()`) and asks `Step.applies(incident)` whether each step runs.
"""

from defib.playbooks.conditions import Condition, ConditionError, parse_condition
from defib.playbooks.loader import (
    PlaybookSet,
    check_paths,
    load_builtin,
    load_dir,
    load_file,
    loads,
    validate_actions,
)
from defib.playbooks.spec import (
    BUILTIN_ACTIONS,
    Approval,
    OnFailure,
    OnTimeout,
    Playbook,
    PlaybookError,
    PlaybookErrors,
    Retries,
    Role,
    Step,
    backoff_delays,
    parse_playbook,
    playbook_json_schema,
)

__all__ = [
    "BUILTIN_ACTIONS",
    "Approval",
    "Condition",
    "ConditionError",
    "OnFailure",
    "OnTimeout",
    "Playbook",
    "PlaybookError",
    "PlaybookErrors",
    "PlaybookSet",
    "Retries",
    "Role",
    "Step",
    "backoff_delays",
    "check_paths",
    "load_builtin",
    "load_dir",
    "load_file",
    "loads",
    "parse_condition",
    "parse_playbook",
    "playbook_json_schema",
    "validate_actions",
]
