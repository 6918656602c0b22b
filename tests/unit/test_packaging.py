"""What ships: the wheel and the production image hold the provider only, never the developer tooling.

The emulator (an HTTPS server issuing tokens for a fixed client secret), the stack launcher, the demo
and the schema generator live in devtools/ and run from the checkout (issue 20).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "oh_outlook_provider", "devtools", "dags", "tests", "benchmarks")


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory) -> list[str]:
    """The file names in a wheel built from a copy of the checkout (offline: the venv's setuptools, no isolation)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in SOURCES:  # a copy keeps build/ and egg-info out of the work tree; devtools/ and tests/ are in it
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                             "--no-index", "-q", "-w", str(out)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = out.glob("oh_outlook_provider-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_holds_the_provider_and_its_schema(wheel_names):
    assert "oh_outlook_provider/get_provider_info.py" in wheel_names
    assert "oh_outlook_provider/graph/graph_schema.json" in wheel_names
    assert "oh_outlook_provider/graph/schema.py" in wheel_names


def test_the_wheel_holds_the_german_catalog(wheel_names):
    """Issue 22: the runtime reads the compiled catalog with gettext; without it everything is English."""
    assert "oh_outlook_provider/i18n/locale/de/LC_MESSAGES/oh_outlook_provider.mo" in wheel_names


def test_the_wheel_holds_no_developer_tooling_and_no_tests(wheel_names):
    code = [n for n in wheel_names if ".dist-info/" not in n]
    assert {n.split("/", 1)[0] for n in code} == {"oh_outlook_provider"}
    forbidden = re.compile(r"(^|/)(devtools|sandbox|tests?|benchmarks|dags)(/|$)|(^|/)(stack|demo|test_[^/]*)\.py$")
    assert [n for n in code if forbidden.search(n)] == []


def dockerfile_stages(text: str) -> list[dict]:
    """Stages of a Dockerfile in order: [{"image": str, "name": str | None, "instructions": [(KEYWORD, args)]}]."""
    stages: list[dict] = []
    build_args: dict[str, str] = {}
    for line in re.sub(r"\\\n", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            image = re.sub(r"\$\{(\w+)\}", lambda m: build_args.get(m[1], m[0]), match[1])
            stages.append({"image": image, "name": match[2], "instructions": []})
        elif keyword.upper() == "ARG" and not stages:  # a global ARG (before the first FROM) with its default
            name, _, default = args.strip().partition("=")
            build_args[name] = default
        else:
            stages[-1]["instructions"].append((keyword.upper(), args.strip()))
    return stages


def copied_sources(stage: dict) -> set[str]:
    """What a stage's COPY/ADD instructions take from the build context (flags and the destination left out)."""
    sources: set[str] = set()
    for keyword, args in stage["instructions"]:
        if keyword in ("COPY", "ADD"):
            parts = [p for p in args.split() if not p.startswith("--")]
            sources.update(p.rstrip("/") for p in parts[:-1])
    return sources


def test_the_production_image_is_the_default_stage_and_copies_only_the_wheels_files():
    stages = dockerfile_stages((ROOT / "Dockerfile").read_text())
    production = stages[-1]  # what `docker build .` builds
    assert production["image"].startswith("apache/airflow:")
    assert copied_sources(production) == {"pyproject.toml", "README.md", "oh_outlook_provider"}
    assert not any("devtools" in args for _, args in production["instructions"])


def test_the_sandbox_has_its_own_stage_and_compose_builds_each_service_from_its_stage():
    stages = dockerfile_stages((ROOT / "Dockerfile").read_text())
    by_name = {s["name"]: s for s in stages if s["name"]}
    assert "sandbox" in by_name and stages[-1] is not by_name["sandbox"]
    assert "devtools" in copied_sources(by_name["sandbox"])
    assert not by_name["sandbox"]["image"].startswith("apache/airflow")
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["sandbox"]["build"]["target"] == "sandbox"
    for name, service in services.items():
        if name.startswith("airflow-"):
            target = service["build"]["target"] if isinstance(service["build"], dict) else None
            assert target in (None, stages[-1]["name"]), name
