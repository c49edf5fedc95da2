"""Settings fail fast with a clear message; the access rule."""

from __future__ import annotations

import pytest
from pydantic_settings import SettingsConfigDict
from sentra_common.access import can_read, validate_access_list, validate_department
from sentra_common.config import DatabaseSettings, NatsSettings, ServiceSettings, load_settings
from sentra_common.errors import InvalidArgument
from sentra_common.principal import Principal


class ExampleSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTRA_EXAMPLE_", env_nested_delimiter="__")
    nats: NatsSettings = NatsSettings()
    database: DatabaseSettings = DatabaseSettings()


def test_bad_setting_stops_start_up_with_a_clear_message(monkeypatch, capsys):
    monkeypatch.setenv("SENTRA_EXAMPLE_NATS__MAX_DELIVER", "lots")
    with pytest.raises(SystemExit) as info:
        load_settings(ExampleSettings)
    assert info.value.code == 2
    assert "SENTRA_EXAMPLE_NATS__MAX_DELIVER" in capsys.readouterr().err


def test_database_url_must_be_supported(monkeypatch, capsys):
    monkeypatch.setenv("SENTRA_EXAMPLE_DATABASE__URL", "mysql://x")
    with pytest.raises(SystemExit):
        load_settings(ExampleSettings)
    assert "sqlite+aiosqlite" in capsys.readouterr().err


def test_nested_settings_from_environment(monkeypatch):
    monkeypatch.setenv("SENTRA_EXAMPLE_NATS__URL", "nats://10.0.0.1:4222")
    monkeypatch.setenv("SENTRA_EXAMPLE_NATS__MAX_DELIVER", "9")
    settings = load_settings(ExampleSettings)
    assert settings.nats.url == "nats://10.0.0.1:4222"
    assert settings.nats.max_deliver == 9


ANA = Principal("ana", departments=("legal",))


def test_department_member_reads_department_wide_documents():
    assert can_read(ANA, "legal", [])
    assert not can_read(ANA, "rrhh", [])


def test_access_list_narrows_a_department():
    assert not can_read(ANA, "legal", ["user:luis"])
    assert can_read(ANA, "legal", ["user:ana"])
    assert can_read(ANA, "legal", ["group:legal"])


def test_platform_admin_reads_everything():
    admin = Principal("root", roles=("platform-admin",))
    assert can_read(admin, "rrhh", ["user:luis"])


def test_identity_spec_parsing():
    p = Principal.parse("ana:legal,rrhh:member,trainer")
    assert p.departments == ("legal", "rrhh") and p.roles == ("member", "trainer")
    with pytest.raises(InvalidArgument):
        Principal.parse(":legal")


def test_validation_messages():
    with pytest.raises(InvalidArgument, match="lowercase"):
        validate_department("Legal Dept")
    with pytest.raises(InvalidArgument, match="user:<subject>"):
        validate_access_list(["ana"])


def test_a_bad_setting_is_named_without_its_value(monkeypatch, capsys):
    """Attack surface: start-up errors land in logs; a password in a URL must not."""
    monkeypatch.setenv("SENTRA_EXAMPLE_DATABASE__URL", "mysql://sentra:s3cret-pw@db/sentra")
    monkeypatch.setenv("SENTRA_EXAMPLE_NATS__MAX_DELIVER", "hunter2")
    with pytest.raises(SystemExit):
        load_settings(ExampleSettings)
    err = capsys.readouterr().err
    assert "SENTRA_EXAMPLE_DATABASE__URL" in err and "SENTRA_EXAMPLE_NATS__MAX_DELIVER" in err
    assert "s3cret-pw" not in err and "hunter2" not in err
