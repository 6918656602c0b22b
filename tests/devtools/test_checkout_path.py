"""Processes the launchers start find `devtools` from any working directory: it is not installed, only checked out."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

from devtools import ROOT, import_dir, with_checkout_on_path
from devtools.demo import airflow_env
from devtools.stack import Stack, StackSettings


def test_the_import_dir_goes_first_once_and_other_entries_stay_behind_it():
    first = str(import_dir())
    env = with_checkout_on_path({"PYTHONPATH": os.pathsep.join(["/a", first, "/b"]), "X": "1"})
    assert env["PYTHONPATH"].split(os.pathsep) == [first, "/a", "/b"] and env["X"] == "1"
    assert with_checkout_on_path({})["PYTHONPATH"] == first


def test_the_import_dir_holds_devtools_only_never_the_checkouts_metadata():
    """Bug seen in the e2e suite: the checkout root on PYTHONPATH exposed oh_outlook_provider.egg-info,
    so Airflow found the provider twice and warned "Plugin 'oh_outlook_provider' already registered"."""
    assert sorted(p.name for p in import_dir().iterdir()) == ["devtools"]
    # Airflow's own view: every distribution on sys.path, not deduplicated by name (importlib's is)
    code = ("try:\n from airflow._shared.module_loading import entry_points_with_dist as found\n"
            "except ImportError:\n from airflow.utils.entry_points import entry_points_with_dist as found\n"
            "print(len([e for e, _ in found('airflow.plugins') if e.name == 'oh_outlook_provider']))")
    out = subprocess.run([sys.executable, "-c", code], env=with_checkout_on_path(os.environ), cwd="/",
                         capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.strip() == "1"


def test_stack_and_demo_environments_put_devtools_on_the_path(tmp_path):
    stack_env = Stack(StackSettings.from_env({}, home=tmp_path), {}).environment()
    demo_env = airflow_env(tmp_path, SimpleNamespace(environment=dict), tmp_path, connections=False)
    for env in (stack_env, demo_env):
        assert env["PYTHONPATH"].split(os.pathsep)[0] == str(import_dir()) != str(ROOT)


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
