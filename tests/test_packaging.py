"""The wheel holds the runtime packages and the shipped models, and nothing the tests or the
benchmarks use alone (tiny-model builders, fakes, the face-path check)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pytest
from packaging.requirements import Requirement

from hsc_infer.zoo import SHIPPED_MODELS
from hsc_jax.entry import INSTALL_HINT

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hsc_infer", "hsc_jax")
# Modules that lived in the package once, or that a test or script might be tempted to ship.
TEST_ONLY = {
    "testing.py",
    "pathcheck.py",
    "helpers.py",
    "fakes.py",
    "conftest.py",
    "face_path.py",
}


def build_requirements_met() -> bool:
    """Whether this environment has pyproject's build-system.requires (setuptools >= 77 reads
    the SPDX `license` string), so that the wheel can be built without fetching them."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for text in requires:
        requirement = Requirement(text)
        try:
            version = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            return False
        if not requirement.specifier.contains(version, prereleases=True):
            return False
    return True


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built from a clean copy of the source (a `build/` or `*.egg-info`
    left in the work tree can carry stale files into a wheel)."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", str(out), "-q"]
    if build_requirements_met():
        command.append("--no-build-isolation")  # else pip fetches the build backend once
    result = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    (path,) = out.glob("hsc_jax-*.whl")
    return path


@pytest.fixture(scope="module")
def names(wheel) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_holds_only_the_runtime_packages(names):
    tops = {PurePosixPath(name).parts[0] for name in names}
    dist_info = {top for top in tops if top.endswith(".dist-info")}
    assert tops - dist_info == set(PACKAGES)
    assert len(dist_info) == 1


def test_wheel_holds_no_test_only_module(names):
    shipped = sorted(name for name in names if PurePosixPath(name).name in TEST_ONLY)
    assert shipped == []
    assert not any(name.startswith(("tests/", "scripts/", "benchmarks/")) for name in names)


def test_wheel_holds_every_runtime_module_and_the_shipped_models(names):
    modules = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert {"hsc_infer/classifier.py", "hsc_infer/demo/app.py", "hsc_jax/cli.py"} <= modules
    assert modules <= names, sorted(modules - names)
    models = {f"hsc_infer/models/{file}" for file in SHIPPED_MODELS.values()}
    models |= {"hsc_infer/models/yunet_face.onnx", "hsc_infer/models/yunet_face.LICENSE"}
    assert models <= names, sorted(models - names)


def test_the_installed_wheel_runs_a_shipped_model(wheel, tmp_path):
    """Unpacked on its own (the work tree off sys.path), hsc_infer finds its model by name."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = (
        "import numpy as np, hsc_infer; from hsc_infer import SmileClassifier; "
        f"assert hsc_infer.__file__.startswith({str(site)!r}), hsc_infer.__file__; "
        "clf = SmileClassifier(); "
        "p = clf.predict([np.full((48, 48, 3), 128, np.uint8)]); "
        "assert p.shape == (1,) and 0 <= p[0] <= 1, p"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(site)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_the_console_script_without_the_training_extra_says_what_to_install(wheel, tmp_path):
    """`pip install hsc-jax` (inference alone) installs the `hsc-jax` script without click or
    JAX: it must say in one line what to install, not die in a ModuleNotFoundError."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q"]
    result = subprocess.run([*install, wheel], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [venv / "bin" / "hsc-jax", "train", "--help"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: hsc-jax needs the training extra")
    assert "click" in line and INSTALL_HINT in line


def other_python(version: str) -> Path | None:
    """An interpreter of `version` ("3.13"): on PATH, else one pyenv has installed."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(
        str(p) for p in pyenv_root.glob(f"versions/{version}*/bin/python{version}")
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(
            tuple(map(int, version.split(".")))
        ):
            return Path(candidate)
    return None


PYTHON_313 = other_python("3.13")

# Run inside the fresh environment: the default detector on the astronaut photograph.
FIND_FACES = """
import json, sys
import cv2
from hsc_infer.detectors import load_detector
detector = load_detector()
frame = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
found = detector(frame)
print(json.dumps({"detector": type(detector).__name__,
                  "boxes": [list(d.box) for d in found], "scores": [d.score for d in found]}))
"""


@pytest.mark.slow
@pytest.mark.skipif(PYTHON_313 is None, reason="no Python 3.13 interpreter on this machine")
def test_the_wheel_installed_under_python_313_finds_faces_with_its_default_detector(
    wheel, tmp_path
):
    """`pip install` of the wheel into a fresh 3.13 environment, where no `yuface` wheel exists:
    the default detector is still YuNet (the shipped ONNX model), and it finds the faces this
    environment finds on the same photograph."""
    from skimage import data

    from hsc_infer.detectors import load_detector

    venv = tmp_path / "venv"
    subprocess.run([PYTHON_313, "-m", "venv", venv], check=True, timeout=120)
    python = venv / "bin" / "python"
    result = subprocess.run(
        [python, "-m", "pip", "install", "-q", wheel], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    frame = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    photo = tmp_path / "astronaut.png"
    cv2.imwrite(str(photo), frame)
    script = tmp_path / "find_faces.py"
    script.write_text(FIND_FACES)
    result = subprocess.run(
        [python, script, photo],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["detector"] == "YuNetFaceDetector"
    here = load_detector()(frame)
    assert len(found["boxes"]) == len(here) >= 1
    for box, score, detection in zip(found["boxes"], found["scores"], here, strict=True):
        assert np.abs(np.subtract(box, detection.box)).max() <= 1
        assert abs(score - detection.score) < 1e-3
