"""The settings tree (pipeline/settings): one namespace, validation that names the variable and
the rule, blanks handled one way, secrets masked, _FILE variants, .env, `threadweaver config`,
README's table generated from the models."""

from __future__ import annotations

import functools
import json
import os
import pickle
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.settings import Settings, SettingsError, WorkerRuntime
from pipeline.settings.doc import README, effective, table, variable_names, variables, with_table

pytestmark = pytest.mark.unit

KEY = "hs256-" + "k" * 40
PASSWORD = "s3cr3t-pa55"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No THREADWEAVER_* (or AWS_REGION) in the process environment, and an empty working
    directory (no .env): what `Settings.from_env()` reads is what the test sets."""
    for name in list(os.environ):
        if name.startswith("THREADWEAVER_") or name == "AWS_REGION":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WORKER_BATCH_MAX", "0", "THREADWEAVER_WORKER_BATCH_MAX must be >= 1, got '0'"),
        (
            "WORKER_BATCH_MAX",
            "many",
            r"THREADWEAVER_WORKER_BATCH_MAX must be a number \(an integer\), got 'many'",
        ),
        ("PROJECTOR_BATCH_MAX", "0", "THREADWEAVER_PROJECTOR_BATCH_MAX must be >= 1"),
        ("PARTITIONS", "-2", "THREADWEAVER_PARTITIONS must be >= 1"),
        ("WORKER_METRICS_PORT", "70000", "THREADWEAVER_WORKER_METRICS_PORT must be <= 65535"),
        (
            "KAFKA_SESSION_TIMEOUT_S",
            "soon",
            "THREADWEAVER_KAFKA_SESSION_TIMEOUT_S must be a number",
        ),
        (
            "KAFKA_HEARTBEAT_INTERVAL_S",
            "30",
            r"THREADWEAVER_KAFKA_HEARTBEAT_INTERVAL_S \(30\) must be < "
            r"THREADWEAVER_KAFKA_SESSION_TIMEOUT_S \(10\)",
        ),
        (
            "WORKER_RUNTIME",
            "threads",
            "THREADWEAVER_WORKER_RUNTIME must be one of faust, confluent, got 'threads'",
        ),
        ("MIRROR_LOG_LEVEL", "loud", "THREADWEAVER_MIRROR_LOG_LEVEL must be one of DEBUG, INFO"),
        ("API_ACCESS_LOG", "maybe", "THREADWEAVER_API_ACCESS_LOG must be true or false"),
        ("API_REPLY_TIMEOUT_S", "0", "THREADWEAVER_API_REPLY_TIMEOUT_S must be > 0"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_rule(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({f"THREADWEAVER_{name}": value})


def test_every_bad_value_of_a_section_is_named_at_once() -> None:
    env = {"THREADWEAVER_WORKER_BATCH_MAX": "0", "THREADWEAVER_WORKER_STANDBY_REPLICAS": "-1"}
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert "THREADWEAVER_WORKER_BATCH_MAX" in str(caught.value)
    assert "THREADWEAVER_WORKER_STANDBY_REPLICAS" in str(caught.value)


def test_a_bad_secret_is_named_but_never_echoed() -> None:
    env = {"THREADWEAVER_KAFKA_SECURITY_PROTOCOL": "SSL", "THREADWEAVER_KAFKA_SSL_KEY_PASSWORD": ""}
    assert Settings.from_env(env).kafka_security.ssl_key_password is None
    env["THREADWEAVER_KAFKA_SSL_KEY_PASSWORD"] = PASSWORD
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert "THREADWEAVER_KAFKA_SSL_KEY_PASSWORD is set without" in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_a_blank_is_unset_for_every_variable() -> None:
    # The projector used to take a blank as its default and the worker to fail on it.
    blanks = {name: "  " for name in variable_names()}
    assert Settings.from_env(blanks) == Settings()
    assert Settings.from_env({"THREADWEAVER_WORKER_BATCH_MAX": ""}).worker.batch_max == 1000


def test_values_are_trimmed_and_choices_ignore_case() -> None:
    settings = Settings.from_env(
        {"THREADWEAVER_WORKER_BATCH_MAX": " 7 ", "THREADWEAVER_WORKER_RUNTIME": "Confluent"}
    )
    assert settings.worker.batch_max == 7
    assert settings.worker.runtime is WorkerRuntime.CONFLUENT


def test_the_kafka_tuning_is_read_once_for_every_component() -> None:
    settings = Settings.from_env({"THREADWEAVER_KAFKA_SESSION_TIMEOUT_S": "6"})
    assert settings.kafka_tuning.session_timeout_s == 6.0
    names = [v.name for v in variables()]
    assert names.count("THREADWEAVER_KAFKA_SESSION_TIMEOUT_S") == 1
    assert len(names) == len(set(names))


def test_the_names_are_the_deployed_ones() -> None:
    names = variable_names()
    for name in (
        "THREADWEAVER_BOOTSTRAP_SERVERS",
        "THREADWEAVER_PG_DSN",
        "THREADWEAVER_PARTITIONS",
        "THREADWEAVER_API_URL",
        "AWS_REGION",
        "THREADWEAVER_WORKER_DATA_DIR",
        "THREADWEAVER_KAFKA_SASL_PASSWORD_FILE",
        "THREADWEAVER_API_JWT_KEY_FILE",
        "THREADWEAVER_SCHEMAS_DIR",
        "THREADWEAVER_DATA_DIR",
        "THREADWEAVER_PG_OS_USER",
    ):
        assert name in names
    assert all(n.startswith("THREADWEAVER_") for n in names - {"AWS_REGION"})


def test_building_a_section_in_code_reads_nothing(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADWEAVER_PARTITIONS", "9")
    (clean_env / ".env").write_text("THREADWEAVER_WORKER_BATCH_MAX=3\n")
    assert Settings().partitions == 4
    assert Settings().worker.batch_max == 1000
    assert Settings.from_env().partitions == 9


def test_the_working_directorys_env_file_is_read_and_the_environment_wins(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / ".env").write_text(
        "# local\nTHREADWEAVER_WORKER_BATCH_MAX=7\nTHREADWEAVER_PARTITIONS=2\n"
        f"THREADWEAVER_API_JWT_KEY={KEY}\nAWS_REGION=us-east-2\n"
    )
    monkeypatch.setenv("THREADWEAVER_PARTITIONS", "3")
    settings = Settings.from_env()
    assert (settings.worker.batch_max, settings.partitions, settings.aws_region) == (
        7,
        3,
        "us-east-2",
    )
    assert settings.api.auth.key is not None
    # A mapping given by the caller (a test, a child's environment) is the whole truth.
    assert Settings.from_env({}).worker.batch_max == 1000


def test_a_bad_value_in_the_env_file_is_named_too(clean_env: Path) -> None:
    (clean_env / ".env").write_text("THREADWEAVER_MIRROR_CONCURRENCY=0\n")
    with pytest.raises(SettingsError, match="THREADWEAVER_MIRROR_CONCURRENCY must be >= 1"):
        Settings.from_env()


def test_secrets_are_secret_strings_masked_everywhere_but_in_a_childs_environment(
    tmp_path: Path,
) -> None:
    env = {
        "THREADWEAVER_API_JWT_KEY": KEY,
        "THREADWEAVER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "THREADWEAVER_KAFKA_SASL_USERNAME": "u",
        "THREADWEAVER_KAFKA_SASL_PASSWORD": PASSWORD,
    }
    settings = Settings.from_env(env)
    shown = [repr(settings), str(settings), repr(settings.kafka)]
    shown += [f"{r.name} {r.value}" for r in effective(settings, env, None)]
    for text in shown:
        assert KEY not in text
        assert PASSWORD not in text
    children = {**settings.to_env(), **settings.api.to_env()}
    assert children["THREADWEAVER_API_JWT_KEY"] == KEY
    assert children["THREADWEAVER_KAFKA_SASL_PASSWORD"] == PASSWORD


def test_the_file_variants_give_the_secret_and_say_so(tmp_path: Path) -> None:
    key_file = tmp_path / "jwt"
    key_file.write_text(KEY + "\n")
    env = {
        "THREADWEAVER_API_JWT_KEY_FILE": str(key_file),
        "THREADWEAVER_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "THREADWEAVER_KAFKA_SASL_USERNAME": "u",
        "THREADWEAVER_KAFKA_SASL_PASSWORD_FILE": "/run/secrets/kafka",
    }
    settings = Settings.from_env(env)
    assert settings.api.auth.key is not None
    assert settings.api.auth.key.get_secret_value() == KEY
    rows = {r.name: r for r in effective(settings, env, None)}
    key = rows["THREADWEAVER_API_JWT_KEY"]
    assert (key.value, key.source) == (
        "********",
        f"file {key_file} (THREADWEAVER_API_JWT_KEY_FILE)",
    )
    password = rows["THREADWEAVER_KAFKA_SASL_PASSWORD"]
    assert password.source == "file /run/secrets/kafka (THREADWEAVER_KAFKA_SASL_PASSWORD_FILE)"
    assert rows["THREADWEAVER_API_JWT_KEY_FILE"].source == "environment"


def test_the_dsn_password_is_masked_in_the_listing() -> None:
    env = {"THREADWEAVER_PG_DSN": "postgresql://tw:hunter2@db:5432/threadweaver"}
    rows = {r.name: r for r in effective(Settings.from_env(env), env, None)}
    assert rows["THREADWEAVER_PG_DSN"].value == "postgresql://tw:********@db:5432/threadweaver"


def test_threadweaver_config_prints_every_setting_with_its_source(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (clean_env / ".env").write_text("THREADWEAVER_WORKER_BATCH_MAX=7\n")
    monkeypatch.setenv("THREADWEAVER_API_JWT_KEY", KEY)
    monkeypatch.setenv("THREADWEAVER_PARTITIONS", "3")
    monkeypatch.setenv("THREADWEAVER_WORKER_BATCH_MAXX", "1")
    assert main(["config", "--json"]) == 0
    out, err = capsys.readouterr()
    rows = {r["name"]: r for r in json.loads(out)}
    assert set(rows) == variable_names()
    assert rows["THREADWEAVER_PARTITIONS"] == {
        "name": "THREADWEAVER_PARTITIONS",
        "value": "3",
        "source": "environment",
    }
    assert rows["THREADWEAVER_WORKER_BATCH_MAX"]["value"] == "7"
    assert rows["THREADWEAVER_WORKER_BATCH_MAX"]["source"] == ".env"
    assert rows["THREADWEAVER_MIRROR_BATCH_MAX"]["source"] == "default"
    assert rows["THREADWEAVER_API_JWT_KEY"]["value"] == "********"
    assert KEY not in out
    assert "THREADWEAVER_WORKER_BATCH_MAXX is set but no setting reads it" in err

    assert main(["config"]) == 0
    table_out = capsys.readouterr().out
    assert table_out.splitlines()[0].split() == ["VARIABLE", "VALUE", "SOURCE"]
    assert len(table_out.splitlines()) == len(variable_names()) + 1
    assert KEY not in table_out


def test_a_bad_value_stops_a_command_at_start_with_the_variables_name(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THREADWEAVER_WORKER_BATCH_MAX", "0")
    assert main(["config"]) == 2
    assert "THREADWEAVER_WORKER_BATCH_MAX must be >= 1" in capsys.readouterr().err
    # The worker stops before it imports Faust or reaches for Kafka.
    assert main(["worker"]) == 2
    assert "threadweaver worker: THREADWEAVER_WORKER_BATCH_MAX" in capsys.readouterr().err


def test_the_api_hands_its_settings_to_uvicorn_not_to_the_environment(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.cli.api as cli_api  # noqa: PLC0415

    monkeypatch.setenv("THREADWEAVER_PG_DSN", "postgresql://x/y")
    monkeypatch.setenv("THREADWEAVER_API_JWT_KEY", KEY)
    monkeypatch.setenv("THREADWEAVER_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    # prometheus_client's own variable (several workers share one metrics directory).
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(clean_env))
    served: list[Settings] = []
    monkeypatch.setattr(cli_api, "_serve", lambda settings: served.append(settings) or 0)
    before = dict(os.environ)
    assert main(["api", "--port", "9123", "--workers", "3"]) == 0
    assert dict(os.environ) == before
    (settings,) = served
    assert (settings.api.port, settings.api.workers) == (9123, 3)
    assert settings.pg_dsn == "postgresql://x/y"
    # What uvicorn pickles into each spawned worker: the factory bound to the settings.
    from api.app import create_app  # noqa: PLC0415

    factory = pickle.loads(pickle.dumps(functools.partial(create_app, settings)))
    assert factory.args == (settings,)
    assert factory.args[0].api.auth.key == settings.api.auth.key


def test_a_bad_flag_is_refused_like_a_bad_variable(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["api", "--workers", "0"]) == 2
    assert "THREADWEAVER_API_WORKERS must be >= 1" in capsys.readouterr().err


def test_the_readme_configuration_table_is_generated_from_the_models() -> None:
    readme = README.read_text(encoding="utf-8")
    assert with_table(readme) == readme, "stale: run `python -m pipeline.settings.doc`"
    assert table() in readme
