"""Developer tooling run from the checkout, never shipped: the sandbox (emulator), the stack launcher, the demo.

Nothing here is in the wheel, so a process these tools start finds `devtools` only through
`with_checkout_on_path`: Airflow's console scripts (`airflow celery worker` importing the hostname
callable `devtools.stack.hostname`) and `python -m devtools.sandbox` do not look in the working directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the checkout: devtools/, dags/, oh_outlook_provider/
IMPORT_DIR = ROOT / ".devtools-path"  # holds only a link to devtools/ (git ignores it)


def import_dir() -> Path:
    """A folder whose only entry is `devtools` (a link to the checkout's): on PYTHONPATH it makes
    devtools importable without the checkout root, whose `oh_outlook_provider.egg-info` (left by the
    editable install) Airflow would read as a second copy of the provider, registering its plugin
    twice ("Plugin 'oh_outlook_provider' already registered" in every task log)."""
    link = IMPORT_DIR / "devtools"
    if not link.is_symlink():
        IMPORT_DIR.mkdir(exist_ok=True)
        try:
            link.symlink_to(ROOT / "devtools", target_is_directory=True)
        except FileExistsError:  # another process made it meanwhile
            pass
    return IMPORT_DIR


def with_checkout_on_path(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of `env` (a process environment) with `import_dir()` first on PYTHONPATH, once.

    Entries already on PYTHONPATH keep their order behind it; `env` itself is not changed.
    """
    first = str(import_dir())
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != first]
    return {**env, "PYTHONPATH": os.pathsep.join([first, *rest])}
