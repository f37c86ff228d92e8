"""The project installs as a wheel: every package and data file it needs is in it, not only in the checkout.

An editable install (the README's ``pip install -e .``) reads ``dojo/``,
``reference/`` and ``kernels/`` straight from the checkout, so it hides a
package or a data file that the wheel leaves out (a hand-kept package list
once dropped ``dojo/gpu`` and its ``emulator.h``). This test builds the wheel,
installs it without ``-e`` into a fresh virtual environment, and runs a GPU
kata and an ordinary kata of the answer key from a copy of the course that
holds no project code at all.

The fresh environment gets the third-party dependencies through a ``.pth``
line naming this interpreter's site folders (installing TensorFlow again would
take minutes). A ``.pth`` file inside a folder added that way is not read, so
this checkout's own editable install stays invisible to it.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COURSE_PARTS = ("curriculum", "solutions", "tests/katas", "conftest.py", "pyproject.toml")

pytestmark = pytest.mark.slow


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False, **kwargs)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel built from this checkout; returns its python."""
    work = tmp_path_factory.mktemp("install")
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--quiet", "-w", str(work / "wheels")])
    (wheel,) = (work / "wheels").glob("neural_katas-*.whl")
    _run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")])
    python = work / "venv" / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)])
    purelib = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    )
    ours = [sysconfig.get_paths()["purelib"], *site.getsitepackages()]
    (purelib / "zz_dependencies.pth").write_text("\n".join(dict.fromkeys(ours)) + "\n")
    return python


def test_the_wheel_carries_the_gpu_emulator_and_every_data_file(installed):
    found = _run(
        [
            str(installed),
            "-c",
            "import dojo, dojo.gpu, dojo.refcache, kernels, reference; from pathlib import Path; "
            "print(Path(dojo.__file__).parent); print(Path(kernels.__file__).parent)",
        ],
        cwd="/",
    ).stdout.split()
    dojo_folder, kernels_folder = Path(found[0]), Path(found[1])
    assert ROOT not in dojo_folder.parents, f"dojo was imported from the checkout, not the wheel: {dojo_folder}"
    assert (dojo_folder / "gpu" / "emulator.h").is_file()
    assert sorted(p.name for p in (dojo_folder / "room" / "static").iterdir()) == sorted(
        p.name for p in (ROOT / "dojo" / "room" / "static").iterdir()
    )
    assert sorted(p.name for p in (kernels_folder / "cuda").glob("*.cu")) == sorted(
        p.name for p in (ROOT / "kernels" / "cuda").glob("*.cu")
    )


def test_a_gpu_kata_and_a_plain_kata_pass_from_the_installed_wheel(installed, tmp_path):
    course = tmp_path / "course"
    for part in COURSE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, course / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, course / part)
    assert not (course / "dojo").exists() and not (course / "reference").exists()
    done = _run(
        [str(installed), "-m", "pytest", "--impl", "solutions", "--kata", "gpu.relu", "--kata", "neuron.weighted_sum"],
        cwd=course,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "KATAS_REFERENCE_CACHE": str(tmp_path / "cache"),
            # The wheel's reference daemon (it lives beside the installed `reference`, not in the course)
            # ends after this many idle seconds instead of the default ten minutes: no process outlives CI.
            "KATAS_REFERENCE_IDLE": "30",
        },
    )
    assert "2 katas" in done.stdout or "gpu.relu" in done.stdout or "pass" in done.stdout, done.stdout
    assert "error" not in done.stdout.lower().split("progress")[0], done.stdout
