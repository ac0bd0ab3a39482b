"""Settings come from pydantic-settings' sources: keyword > DEFIB_* > YAML file > default;
e-mail and URL values are checked by pydantic's own types."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from defib.config import ConfigError, load_settings


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "defib.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_keyword_beats_env_beats_file_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, {"port": 9001, "log_level": "debug", "reopen_window_seconds": 5})
    monkeypatch.setenv("DEFIB_PORT", "9002")
    monkeypatch.setenv("DEFIB_LOG_LEVEL", "warning")
    s = load_settings(path, data_dir=tmp_path, log_level="error")
    assert (s.port, s.log_level, s.reopen_window_seconds, s.max_body_bytes) == (
        9002,
        "error",
        5,
        1024 * 1024,
    )
    assert s.config == path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "the top level must be a mapping"),
        ("port: [\n", "line 2: not valid YAML"),
        ("prot: 1\n", "prot: unknown key"),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "defib.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path, data_dir=tmp_path)


def test_a_missing_file_is_an_error_not_silently_skipped(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_settings(tmp_path / "nope.yaml")


def test_private_mail_domains_pass_but_bad_addresses_do_not(tmp_path: Path) -> None:
    """email-validator refuses .local/.test/localhost as special-use; a private mail network
    uses them, so they pass, while malformed addresses under any domain fail."""
    good = ["oncall@corp.local", "ops@localhost", "qa@ci.test", "jane.doe+x@sub.example.co.uk"]
    s = load_settings(
        write(tmp_path, {"systems": [{"name": "a", "owners": {"emails": good}}]}),
        data_dir=tmp_path,
    )
    assert s.systems[0].owners.emails == good
    for bad in ("a@b", "x@-bad-.local", "two@@example.com", "sp ace@example.com"):
        path = write(tmp_path, {"systems": [{"name": "a", "owners": {"emails": [bad]}}]})
        with pytest.raises(ConfigError, match=r"systems\.0\.owners\.emails\.0.*not an email"):
            load_settings(path, data_dir=tmp_path)


def test_urls_are_checked_by_pydantic_and_kept_as_written(tmp_path: Path) -> None:
    """HttpUrl's check, but no trailing slash added: paths are joined onto these."""
    ok = {"name": "a", "owners": {"slack_webhook": "http://127.0.0.1:9000"}}
    s = load_settings(write(tmp_path, {"systems": [ok]}), data_dir=tmp_path)
    assert s.systems[0].owners.slack_webhook == "http://127.0.0.1:9000"
    for bad in ("ftp://x", "http://", "hooks.slack.com/x"):
        path = write(tmp_path, {"systems": [{"name": "a", "owners": {"slack_webhook": bad}}]})
        with pytest.raises(ConfigError, match=r"slack_webhook.*must be an http"):
            load_settings(path, data_dir=tmp_path)


def test_every_section_model_of_the_config_package_is_importable_from_defib_config() -> None:
    """`defib.config` is split by section; importers keep `from defib.config import X`."""
    import importlib
    import pkgutil

    import defib.config

    missing = []
    for info in pkgutil.iter_modules(defib.config.__path__):
        module = importlib.import_module(f"defib.config.{info.name}")
        missing += [
            f"{info.name}.{name}"
            for name, value in vars(module).items()
            if isinstance(value, type)
            and value.__module__ == module.__name__
            and not name.startswith("_")
            and getattr(defib.config, name, None) is not value
        ]
    assert missing == []
    assert set(defib.config.__all__) <= set(dir(defib.config))
