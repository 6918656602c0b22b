"""Processes the launchers start find `devtools` from any working directory: it is not installed, only checked out."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

from devtools import ROOT, with_checkout_on_path
from devtools.demo import airflow_env
from devtools.stack import Stack, StackSettings


def test_the_checkout_goes_first_once_and_other_entries_stay_behind_it():
    env = with_checkout_on_path({"PYTHONPATH": os.pathsep.join(["/a", str(ROOT), "/b"]), "X": "1"})
    assert env["PYTHONPATH"].split(os.pathsep) == [str(ROOT), "/a", "/b"] and env["X"] == "1"
    assert with_checkout_on_path({})["PYTHONPATH"] == str(ROOT)


def test_stack_and_demo_environments_put_the_checkout_on_the_path(tmp_path):
    stack_env = Stack(StackSettings.from_env({}, home=tmp_path), {}).environment()
    demo_env = airflow_env(tmp_path, SimpleNamespace(environment=dict), tmp_path, connections=False)
    for env in (stack_env, demo_env):
        assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)


def test_a_worker_started_elsewhere_imports_the_hostname_callable(tmp_path):
    """As a Celery worker does: Airflow imports AIRFLOW__CORE__HOSTNAME_CALLABLE by its dotted name."""
    env = Stack(StackSettings.from_env({}, home=tmp_path), {}).environment()
    dotted = env["AIRFLOW__CORE__HOSTNAME_CALLABLE"]
    module, name = dotted.rsplit(".", 1)
    code = f"import importlib; print(getattr(importlib.import_module({module!r}), {name!r})())"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={**env, "OH_STACK_WORKER_NAME": "w9"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "w9"
