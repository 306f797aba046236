"""The client packages as a user gets them: `pip install ./Clients/python`
into a fresh virtual environment and `npm pack` + `npm install` of
Clients/js into a fresh project, then each README's complete example run
exactly as written against the real binary (pointed at it through the
HERALD_WS / HERALD_ADMIN variables the examples read)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ["state: connecting", "state: connected", "published seq 1"]


def readme_example(path: Path, language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", path.read_text(), re.S)
    assert match, f"no {language} example in {path}"
    return match.group(1)


def example_env(herald) -> dict[str, str]:
    return {**os.environ, "HERALD_WS": f"ws://127.0.0.1:{herald.port}/ws",
            "HERALD_ADMIN": f"http://127.0.0.1:{herald.admin_port}"}


def test_the_python_package_installs_and_its_readme_example_runs(herald, tmp_path):
    venv = tmp_path / "venv"
    # System site packages: websockets (and setuptools/wheel for the local
    # build) come from the test environment, so no network is needed.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # A copy: a local build writes build/ and *.egg-info next to the sources.
    source = tmp_path / "herald-client"
    shutil.copytree(ROOT / "Clients/python", source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                                str(source)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    script = tmp_path / "example.py"
    script.write_text(readme_example(ROOT / "Clients/python/README.md", "python"))
    # Run from outside the repository: the installed module is what imports.
    run = subprocess.run([str(python), str(script)], cwd=tmp_path, env=example_env(herald),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert lines[:3] == EXPECTED and lines[3] == "message demo 1 {'hello': 'world'}", run.stdout
    where = subprocess.run([str(python), "-c", "import herald_client; print(herald_client.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert str(venv) in where.stdout, "the example used the installed package"
    # The `[zstd]` extra is declared (pip install './Clients/python[zstd]' brings zstandard).
    requires = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.requires('herald-client'))"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "zstandard" in requires.stdout and 'extra == "zstd"' in requires.stdout, requires.stdout + requires.stderr


def test_the_js_package_packs_installs_and_its_readme_example_runs(herald, tmp_path):
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm are not installed")
    packed = subprocess.run([npm, "pack", "--silent", "--pack-destination", str(tmp_path)],
                            cwd=ROOT / "Clients/js", capture_output=True, text=True, timeout=120)
    assert packed.returncode == 0, packed.stderr
    tarball = tmp_path / packed.stdout.strip().splitlines()[-1]
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name":"app","private":true,"type":"module"}')
    installed = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--offline", str(tarball)],
                               cwd=app, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    shipped = sorted(p.name for p in (app / "node_modules/herald-client").iterdir())
    assert shipped == ["README.md", "herald.d.ts", "herald.global.js", "herald.js", "package.json"], shipped
    (app / "example.mjs").write_text(readme_example(ROOT / "Clients/js/README.md", "js"))
    # Node ≥ 22 has WebSocket built in; Node 20 and 21 need the flag.
    builtin = subprocess.run([node, "-e", "process.stdout.write(typeof WebSocket)"], capture_output=True,
                             text=True, timeout=30).stdout == "function"
    flags = [] if builtin else ["--experimental-websocket"]
    run = subprocess.run([node, *flags, "--no-warnings", "example.mjs"], cwd=app,
                         env=example_env(herald), capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == EXPECTED + ['message demo 1 {"hello":"world"}', "state: disconnected"], \
        run.stdout
