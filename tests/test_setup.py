"""run.sh installs once, then skips the install until a requirements file changes.

Run in a scratch copy of the project whose requirements are already satisfied by a new virtual
environment (pip itself), so no package is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.e2e_helpers import REPO_ROOT


def run_setup(project: Path, mode: str = "app") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(
        ["bash", str(project / "run.sh"), "setup", mode],
        cwd=project, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_run_sh_installs_once_and_again_only_when_requirements_change(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(REPO_ROOT / "run.sh", project / "run.sh")
    (project / "requirements.txt").write_text("pip\n")
    (project / "constraints.txt").write_text("# no pins\n")

    first = run_setup(project)
    assert first.returncode == 0, first.stderr
    assert "Creating the virtual environment" in first.stderr
    assert "Installing Python packages" in first.stderr
    assert (project / ".venv" / ".cnnedu-installed-app").is_file()

    second = run_setup(project)
    assert second.returncode == 0, second.stderr
    assert "Installing Python packages" not in second.stderr
    assert "Python packages are installed" in second.stderr

    (project / "constraints.txt").write_text("# no pins\npip>=1\n")
    third = run_setup(project)
    assert third.returncode == 0, third.stderr
    assert "Installing Python packages" in third.stderr


def test_run_sh_explains_its_usage_on_an_unknown_command(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "run.sh"), "deploy"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "./run.sh app" in result.stderr and "./run.sh test" in result.stderr
