"""The stack launcher's settings: defaults for this machine, the environment's values, compose parity."""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from devtools.stack import Stack, StackSettings, unreachable

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_point_at_the_local_services_and_an_own_database(tmp_path):
    settings = StackSettings.from_env({}, home=tmp_path)
    assert settings.sql_alchemy_conn == "postgresql+psycopg2://postgres@127.0.0.1:5432/oh_outlook_stack"
    assert settings.broker_url == "redis://127.0.0.1:6379/0"
    assert settings.result_backend == "db+postgresql://postgres@127.0.0.1:5432/oh_outlook_stack"
    assert settings.worker_names == ["worker1", "worker2"] and settings.api_port == 8080


def test_the_environment_overrides_every_default(tmp_path):
    env = {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://a:b@db.example:5433/af",
           "AIRFLOW__CELERY__BROKER_URL": "redis://cache.example:6380/2", "OH_STACK_API_PORT": "9090",
           "OH_STACK_WORKERS": "3", "OH_STACK_HOME": str(tmp_path)}
    settings = StackSettings.from_env(env)
    assert settings.result_backend == "db+postgresql://a:b@db.example:5433/af"
    assert settings.api_url == "http://127.0.0.1:9090" and settings.worker_names[-1] == "worker3"
    assert settings.home == tmp_path.resolve()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unreachable_service_is_named_in_one_line_with_its_setting(tmp_path):
    port = _closed_port()
    settings = StackSettings.from_env({"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://u@127.0.0.1:{port}/x"},
                                      home=tmp_path)
    reason = unreachable(settings)
    assert reason is not None and "\n" not in reason
    assert reason.startswith(f"PostgreSQL is not reachable at 127.0.0.1:{port}")
    assert reason.endswith("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")


def test_docker_compose_sets_what_the_stack_sets(tmp_path):
    """What the stack suite proves is what compose deploys: the same executor, the same variables."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    deployed = compose["x-airflow-common"]["environment"]
    stack_env = Stack(StackSettings.from_env({}, home=tmp_path), {}).environment()
    for name in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CELERY__BROKER_URL",
                 "AIRFLOW__CELERY__RESULT_BACKEND", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                 "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__TEST_CONNECTION", "OH_OUTLOOK_SNAPSHOT_BASE",
                 "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "AIRFLOW__CORE__LOAD_EXAMPLES"):
        assert name in deployed and name in stack_env, name
    assert deployed["AIRFLOW__CORE__EXECUTOR"] == stack_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    services = set(compose["services"])
    assert {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
            "postgres", "redis", "sandbox"} <= services
