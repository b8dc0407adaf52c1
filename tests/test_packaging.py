"""The installed package (as the Docker image installs it, not editable) has what it needs
at run time besides Python modules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_carries_the_document_dictionary(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    [wheel] = tmp_path.glob("smartcomms-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "state/documents-v2.zdict" in names
    assert (
        zipfile.ZipFile(wheel).read("state/documents-v2.zdict")
        == (ROOT / "state" / "documents-v2.zdict").read_bytes()
    )
