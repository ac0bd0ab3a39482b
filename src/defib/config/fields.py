"""Value checks and the base model every settings section shares.

`Email`, `HttpUrl` and `EnvName` are the field types sections use; `Section` forbids unknown
keys, so a typo in defib.yaml is an error naming the key, not a silently ignored line.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    TypeAdapter,
    ValidationError,
)
from pydantic import HttpUrl as PydanticHttpUrl

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_EMAIL_STR: TypeAdapter[str] = TypeAdapter(EmailStr)
_HTTP_URL: TypeAdapter[PydanticHttpUrl] = TypeAdapter(PydanticHttpUrl)


# Domains email-validator refuses as special-use, but that a team's private mail network
# (or a test) uses: oncall@mail.corp.local, ops@localhost.
_PRIVATE_MAIL_DOMAINS = ("local", "localhost", "test", "internal")


def _first_message(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"])


def _email(v: str) -> str:
    """pydantic's EmailStr check (email-validator, no DNS), allowing private domains.

    Errors name the exact key, e.g. `systems.0.owners.emails.1`.
    """
    local, at, domain = v.rpartition("@")
    private = at and domain.rsplit(".", 1)[-1].lower() in _PRIVATE_MAIL_DOMAINS
    # A private domain is checked for syntax as if it were under a public one.
    probe = f"{local}@{domain}.example.com" if private else v
    try:
        checked = _EMAIL_STR.validate_python(probe)
    except ValidationError as exc:
        raise ValueError(f"not an email address: {v!r} ({_first_message(exc)})") from exc
    return v if private else checked


def _http_url(v: str) -> str:
    """pydantic's HttpUrl check; the text is kept as written (HttpUrl would add a `/`)."""
    try:
        _HTTP_URL.validate_python(v)
    except ValidationError as exc:
        raise ValueError(f"must be an http(s) URL ({_first_message(exc)})") from exc
    return v


def _env_name(v: str) -> str:
    if not _ENV_NAME.match(v):
        raise ValueError("must be the name of an environment variable")
    return v


Email = Annotated[str, AfterValidator(_email)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]


class Section(BaseModel):
    """One section of defib.yaml: unknown keys are errors, values never change after start."""

    model_config = ConfigDict(extra="forbid", frozen=True)
