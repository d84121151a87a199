"""Which database the kit uses, and how it talks about it."""

from __future__ import annotations

import pytest

from kit.db.config import ConfigError, DatabaseConfig, ServerNotStarted, mask_url


def test_database_url_wins() -> None:
    config = DatabaseConfig.from_environment({"DATABASE_URL": "postgresql://ann:s3cret@db.example:6543/shop", "DB_HOST": "other"})
    assert (config.host, config.port, config.user, config.password, config.database) == (
        "db.example",
        6543,
        "ann",
        "s3cret",
        "shop",
    )
    assert config.source == "DATABASE_URL"
    assert config.url == "postgresql://ann:s3cret@db.example:6543/shop"


def test_seed_variables_when_db_host_is_set() -> None:
    config = DatabaseConfig.from_environment({"DB_HOST": "pg", "DB_PASSWORD": "pw"})
    assert config.url == "postgresql://test_user:pw@pg:5434/kailash_test"
    assert config.source == "DB_HOST"


def test_special_characters_survive_the_round_trip() -> None:
    config = DatabaseConfig.from_url("postgresql://a%40b:p%3Aw%2F@h:1/d%20b")
    assert (config.user, config.password, config.database) == ("a@b", "p:w/", "d b")
    assert DatabaseConfig.from_url(config.url) == config


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u:p@h/d", "must start with postgresql://"),
        ("postgresql://u:p@h:notaport/d", "not a valid URL"),
        ("postgresql://u:p@/d", "names no host"),
        ("postgresql://u:p@h:5432", "names no database"),
        ("just some text", "must start with postgresql://"),
    ],
)
def test_malformed_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DatabaseConfig.from_environment({"DATABASE_URL": url})
    assert says in str(caught.value)
    assert "p@" not in str(caught.value).replace("USER:PASSWORD@", ""), "the password must be masked"


def test_bad_db_port() -> None:
    with pytest.raises(ConfigError, match="DB_PORT='x' is not a port number"):
        DatabaseConfig.from_environment({"DB_HOST": "h", "DB_PORT": "x"})


def test_no_configuration_and_no_server(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LOOP_LAB_HOME", str(tmp_path))
    with pytest.raises(ServerNotStarted, match="python -m kit db start"):
        DatabaseConfig.from_environment({})


def test_passwords_are_masked() -> None:
    config = DatabaseConfig.from_url("postgresql://ann:s3cret@h:1/d")
    assert "s3cret" not in repr(config) and "s3cret" not in str(config) and "s3cret" not in config.masked_url
    assert mask_url("postgresql://ann:s3cret@h:1/d") == "postgresql://ann:***@h:1/d"
    assert mask_url("postgresql://ann@h:1/d") == "postgresql://ann@h:1/d"
