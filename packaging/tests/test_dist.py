"""make dist-test: the artifacts in dist/ install and work where no Rust toolchain exists.

`make dist` builds them first. The installs that must not compile run with cargo, rustc and
rustup off PATH, CARGO_HOME and RUSTUP_HOME pointing at an empty folder, and HOME moved to
an empty folder too (the npm install script also looks for ~/.cargo/bin/cargo): had anything
tried to compile, it would have failed. The README examples' output from the development
builds (`make python-build node-build`) is the reference the installed packages must print.

Figures (install times, artifact sizes) go to target/dist-test/figures.txt.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
VENV_BIN = ROOT / ".venv" / "bin"
TOOLS = ROOT / "packaging" / "tools" / "node_modules"
FIGURES = ROOT / "target" / "dist-test" / "figures.txt"
PY_EXAMPLE = ROOT / "examples" / "readme_example.py"
JS_EXAMPLES = [ROOT / "examples" / "readme_example.js", ROOT / "examples" / "readme_example.mjs"]
RUST_TOOLS = ("cargo", "rustc", "rustup")


def run(cmd: list[Any], *, cwd: Path | None = None, env: dict[str, str] | None = None,
        check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    args = [str(c) for c in cmd]
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {p.returncode}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}")
    return p


VERSION = run([sys.executable, ROOT / "packaging" / "version.py"]).stdout.strip()
PLATFORMS: dict[str, dict[str, str]] = json.loads(
    run(["node", "-p", "JSON.stringify(require('./bindings-node/native.js').PLATFORMS)"], cwd=ROOT).stdout)


def only(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    assert len(found) == 1, f"expected one dist/{pattern}, found {[f.name for f in found]} (run make dist)"
    return found[0]


def wheel() -> Path:
    return only(f"flightcache-{VERSION}-cp310-abi3-*.whl")


def sdist() -> Path:
    return only(f"flightcache-{VERSION}.tar.gz")


def npm_main() -> Path:
    return only(f"flightcache-{VERSION}.tgz")


def npm_platform() -> Path:
    return only(f"flightcache-linux-x64-gnu-{VERSION}.tgz")


# ---------------------------------------------------------------------------------- figures

_figures: list[str] = []


def record(what: str, seconds: float) -> None:
    _figures.append(f"{what}: {seconds:.1f} s")


@pytest.fixture(scope="session", autouse=True)
def figures() -> Iterator[None]:
    yield
    lines = ["dist-test figures (measured by packaging/tests/test_dist.py in this run)"]
    lines += [f"  {f}" for f in _figures]
    for f in sorted(DIST.glob(f"flightcache*{VERSION}*")):
        lines.append(f"  size of dist/{f.name}: {f.stat().st_size / 1024:.0f} KiB")
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------- environments


def env_without_rust(base: Path) -> dict[str, str]:
    """The environment of a machine with no Rust toolchain: see the module's docstring."""
    home = base / "home"
    empty = base / "empty-cargo-home"
    home.mkdir(parents=True)
    empty.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARGO", "RUSTUP", "RUSTC", "RUSTFLAGS", "PIP_FIND_LINKS"))}
    kept = [d for d in env.get("PATH", "").split(os.pathsep)
            if d and not any((Path(d) / t).exists() for t in RUST_TOOLS)]
    env.update(PATH=os.pathsep.join(kept), HOME=str(home), CARGO_HOME=str(empty), RUSTUP_HOME=str(empty),
               # pyenv's shims on PATH find their interpreters through PYENV_ROOT, else through HOME.
               PYENV_ROOT=os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))
    for tool in RUST_TOOLS:
        assert shutil.which(tool, path=env["PATH"]) is None, f"{tool} is still reachable"
    assert not any(home.iterdir()) and not any(empty.iterdir())
    for tool in ("node", "npm"):
        assert shutil.which(tool, path=env["PATH"]), f"{tool} was only found beside cargo"
    return env


def python_for(minor: int) -> Path | None:
    """A CPython 3.<minor> interpreter on this machine, if any (pyenv's or the system's)."""
    base = Path(sys.base_prefix) / "bin" / f"python3.{minor}"
    if base.exists():
        return base
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for candidate in sorted(pyenv.glob(f"3.{minor}.*/bin/python3.{minor}"), reverse=True):
        return candidate
    system = Path(f"/usr/bin/python3.{minor}")
    return system if system.exists() else None


@pytest.fixture(scope="session")
def reference_py_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("py-reference")
    shutil.copy(PY_EXAMPLE, work)
    out = run([VENV_BIN / "python", PY_EXAMPLE.name], cwd=work).stdout
    assert "token: secret-token" in out
    return out


@pytest.fixture(scope="session")
def reference_js_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    work = tmp_path_factory.mktemp("js-reference")
    (work / "node_modules").mkdir()
    (work / "node_modules" / "flightcache").symlink_to(ROOT / "bindings-node")
    outputs = {}
    for example in JS_EXAMPLES:
        shutil.copy(example, work)
        outputs[example.name] = run(["node", example.name], cwd=work).stdout
        assert "token: secret-token" in outputs[example.name]
    return outputs


# --------------------------------------------------------------------------------- versions


VERSION_FILES = ["Cargo.toml", "LICENSE", "core/Cargo.toml", "bindings-python/Cargo.toml",
                 "bindings-python/pyproject.toml", "bindings-python/LICENSE",
                 "bindings-python/python/flightcache/__init__.py", "bindings-node/Cargo.toml",
                 "bindings-node/package.json", "packaging/version.py"]


def test_version_check_passes_here_and_fails_on_each_kind_of_drift(tmp_path: Path) -> None:
    for f in VERSION_FILES:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / f, tmp_path / f)
    check = [sys.executable, tmp_path / "packaging" / "version.py", "--check"]
    assert VERSION in run(check).stdout

    def drifted(path: str, old: str, new: str, expect: str) -> None:
        file = tmp_path / path
        original = file.read_text()
        assert old in original, f"{path} has no {old!r}"
        file.write_text(original.replace(old, new, 1))
        p = run(check, check=False)
        file.write_text(original)
        assert p.returncode != 0 and expect in p.stderr, p.stderr

    drifted("bindings-node/package.json", f'"version": "{VERSION}"', '"version": "9.9.9"', "package.json")
    drifted("Cargo.toml", f'version = "{VERSION}"', 'version = "9.9.9"', "package.json")
    drifted("bindings-python/pyproject.toml", "dynamic = [\"version\"]", f'version = "{VERSION}"', "pyproject.toml")
    drifted("bindings-python/python/flightcache/__init__.py", "__version__: str\n",
            f'__version__ = "{VERSION}"\n', "__init__.py")
    drifted("bindings-python/LICENSE", "MIT", "BSD", "LICENSE")
    assert VERSION in run(check).stdout


# ------------------------------------------------------------------------------ Python wheel


def test_wheel_is_abi3_and_manylinux2014_by_auditwheel() -> None:
    whl = wheel()
    assert "-cp310-abi3-manylinux2014_x86_64." in whl.name, whl.name
    shown = " ".join(run([VENV_BIN / "auditwheel", "show", whl]).stdout.split())
    assert 'is consistent with the following platform tag: "manylinux_2_17_x86_64"' in shown, shown
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        tags = [line for line in z.read(f"flightcache-{VERSION}.dist-info/WHEEL").decode().splitlines()
                if line.startswith("Tag:")]
    assert sorted(tags) == ["Tag: cp310-abi3-manylinux2014_x86_64", "Tag: cp310-abi3-manylinux_2_17_x86_64"], tags
    for f in ("flightcache/_native.abi3.so", "flightcache/_native.pyi", "flightcache/py.typed",
              f"flightcache-{VERSION}.dist-info/licenses/LICENSE"):
        assert f in names, f"{f} is not in the wheel"


def test_python_metadata_passes_twine_and_says_what_users_look_for() -> None:
    checked = run([VENV_BIN / "twine", "check", "--strict", wheel(), sdist()]).stdout
    assert checked.count("PASSED") == 2, checked
    with zipfile.ZipFile(wheel()) as z:
        meta = email.parser.Parser().parsestr(z.read(f"flightcache-{VERSION}.dist-info/METADATA").decode())
    assert meta["Name"] == "flightcache" and meta["Version"] == VERSION
    assert meta["License-Expression"] == "MIT" and meta["License-File"] == "LICENSE"
    assert meta["Requires-Python"] == ">=3.10"
    assert meta["Description-Content-Type"].startswith("text/markdown")
    readme = (ROOT / "bindings-python" / "README.md").read_text()
    assert meta.get_payload().strip() == readme.strip(), "the long description is not the package README"
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= urls.keys(), urls
    classifiers = meta.get_all("Classifier")
    for c in ["Typing :: Typed", "Programming Language :: Rust", "Programming Language :: Python :: 3 :: Only"] + \
            [f"Programming Language :: Python :: 3.{m}" for m in (10, 11, 12, 13)]:
        assert c in classifiers, c
    assert "cache" in meta["Keywords"].split(",")


@pytest.mark.parametrize("minor", [10, 11, 12, 13], ids=lambda m: f"cpython3.{m}")
def test_wheel_installs_without_rust_and_runs_the_readme_example(
        minor: int, tmp_path: Path, reference_py_output: str) -> None:
    python = python_for(minor)
    if python is None:
        pytest.skip(f"no CPython 3.{minor} on this machine: the abi3 wheel is untested there")
    env = env_without_rust(tmp_path)
    venv = tmp_path / "venv"
    run([python, "-m", "venv", venv], env=env)
    vpy = venv / "bin" / "python"
    # --no-index and --only-binary: pip can take nothing but a wheel from dist/; it has no
    # way to build anything, and no cargo to build with.
    start = time.perf_counter()
    run([vpy, "-m", "pip", "install", "--disable-pip-version-check", "--no-index", "--only-binary=:all:",
         "--find-links", DIST, f"flightcache=={VERSION}"], env=env)
    record(f"pip install of the wheel with no cargo (CPython 3.{minor})", time.perf_counter() - start)

    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(PY_EXAMPLE, work)
    assert run([vpy, PY_EXAMPLE.name], cwd=work, env=env).stdout == reference_py_output
    where = run([vpy, "-c", "import flightcache; print(flightcache.__file__); print(flightcache.__version__)"],
                cwd=work, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(venv) and where[1] == VERSION, where


def test_mypy_strict_passes_on_the_readme_example_against_the_installed_wheel(tmp_path: Path) -> None:
    env = env_without_rust(tmp_path)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], env=env)
    vpy = venv / "bin" / "python"
    run([vpy, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index", "--only-binary=:all:",
         "--find-links", DIST, f"flightcache=={VERSION}"], env=env)
    # The same mypy as the repository's own checks, from PyPI (a wheel: nothing compiles).
    mypy = run([VENV_BIN / "python", "-m", "mypy", "--version"]).stdout.split()[1]
    run([vpy, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:", f"mypy=={mypy}"])
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(PY_EXAMPLE, work)
    run([vpy, "-m", "mypy", "--strict", "--no-incremental", PY_EXAMPLE.name], cwd=work, env=env)
    # The installed stubs are what mypy read: a misuse they describe is an error.
    (work / "misuse.py").write_text("from flightcache import Cache\n\nCache(max_entries='many')\n")
    p = run([vpy, "-m", "mypy", "--strict", "--no-incremental", "misuse.py"], cwd=work, env=env, check=False)
    assert p.returncode == 1 and '"max_entries"' in p.stdout and "[arg-type]" in p.stdout, p.stdout


def test_sdist_builds_from_source_with_cargo(tmp_path: Path, reference_py_output: str) -> None:
    with tarfile.open(sdist()) as t:
        names = set(t.getnames())
    top = f"flightcache-{VERSION}"
    for f in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "LICENSE", "core/src/lib.rs",
              "bindings-python/src/lib.rs", "python/flightcache/__init__.py"):
        assert f"{top}/{f}" in names, f"{f} is not in the sdist"
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv])
    vpy = venv / "bin" / "python"
    start = time.perf_counter()
    p = run([vpy, "-m", "pip", "install", "-v", "--disable-pip-version-check", "--no-binary=flightcache", sdist()])
    record("pip install of the sdist, built from source with cargo", time.perf_counter() - start)
    assert "Compiling flightcache " in p.stdout + p.stderr, "pip did not build the sdist with cargo"
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(PY_EXAMPLE, work)
    assert run([vpy, PY_EXAMPLE.name], cwd=work).stdout == reference_py_output


# --------------------------------------------------------------------------------- npm


def npm_package_json(tarball: Path) -> dict[str, Any]:
    with tarfile.open(tarball) as t:
        f = t.extractfile("package/package.json")
        assert f is not None
        return json.load(f)


@pytest.mark.parametrize("which", ["main", "platform"])
def test_npm_pack_dry_run_reports_clean_metadata(which: str, tmp_path: Path) -> None:
    tarball = npm_main() if which == "main" else npm_platform()
    p = run(["npm", "pack", "--dry-run", "--json", tarball], cwd=tmp_path)
    warnings = [line for line in p.stderr.splitlines() if line.startswith(("npm warn", "npm error", "npm WARN", "npm ERR"))]
    assert not warnings, p.stderr
    [info] = json.loads(p.stdout)
    files = {f["path"] for f in info["files"]}
    pkg = npm_package_json(tarball)
    assert pkg["version"] == VERSION and pkg["license"] == "MIT"
    assert pkg["engines"]["node"] and pkg["repository"]["url"] and pkg["bugs"]["url"] and pkg["homepage"]
    assert {"LICENSE", "README.md", "package.json"} <= files
    if which == "main":
        assert pkg["name"] == "flightcache" and "cache" in pkg["keywords"]
        assert pkg["types"] in files
        exports = pkg["exports"]["."]
        for condition in ("import", "require"):
            assert exports[condition]["types"].removeprefix("./") in files, condition
            assert exports[condition]["default"].removeprefix("./") in files, condition
        assert pkg["optionalDependencies"] == {f"flightcache-{p}": VERSION for p in PLATFORMS}
        assert pkg["scripts"]["install"] == "node scripts/install.js"
        for f in ("native.js", "scripts/install.js", "scripts/build.js", "rust/Cargo.toml", "rust/Cargo.lock",
                  "rust/core/src/lib.rs", "rust/bindings-node/src/lib.rs", "rust/bindings-node/build.rs"):
            assert f in files, f"{f} is not in the main package"
        assert not [f for f in files if f.endswith(".node")], "a native module leaked into the main package"
    else:
        assert pkg["name"] == "flightcache-linux-x64-gnu"
        assert (pkg["os"], pkg["cpu"], pkg["libc"]) == (["linux"], ["x64"], ["glibc"])
        assert pkg["main"] == "flightcache.linux-x64-gnu.node" and pkg["main"] in files
        assert "scripts" not in pkg, "a platform package must not run scripts"


def test_prebuilt_node_module_needs_glibc_2_17_at_most(tmp_path: Path) -> None:
    with tarfile.open(npm_platform()) as t:
        t.extract("package/flightcache.linux-x64-gnu.node", tmp_path, filter="data")
    objdump = shutil.which("objdump")
    assert objdump, "objdump (Debian's binutils) is needed to read the module's symbol versions"
    symbols = run([objdump, "-T", tmp_path / "package" / "flightcache.linux-x64-gnu.node"]).stdout
    needed = {tuple(int(x) for x in v) for v in re.findall(r"GLIBC_(\d+)\.(\d+)", symbols)}
    assert needed and max(needed) <= (2, 17), f"needs glibc {max(needed)}"


def new_npm_app(base: Path) -> Path:
    app = base / "app"
    app.mkdir()
    (app / "package.json").write_text(json.dumps({"name": "app", "private": True}))
    return app


NPM_INSTALL = ["npm", "install", "--no-audit", "--no-fund", "--foreground-scripts"]


@pytest.fixture(scope="module")
def npm_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    """dist/'s two npm tarballs installed into a new folder with no Rust toolchain reachable."""
    base = tmp_path_factory.mktemp("npm-no-rust")
    env = env_without_rust(base)
    app = new_npm_app(base)
    # --offline: everything comes from dist/; the other platforms' optional packages are
    # skipped as npm does where they do not fit.
    start = time.perf_counter()
    p = run(NPM_INSTALL + ["--offline", npm_platform(), npm_main()], cwd=app, env=env)
    record("npm install of the two tarballs with no cargo", time.perf_counter() - start)
    return app, env, p.stdout + p.stderr


def test_npm_installs_the_prebuilt_module_without_rust(npm_app: tuple[Path, dict[str, str], str]) -> None:
    app, env, log = npm_app
    assert "flightcache: using the prebuilt native module from flightcache-linux-x64-gnu" in log, log
    assert "building the native module" not in log, log
    assert not (app / "node_modules" / "flightcache" / "flightcache.node").exists()
    loaded = run(["node", "-e", "require('flightcache'); console.log(JSON.stringify("
                  "Object.keys(require.cache).filter((f) => f.endsWith('.node'))))"], cwd=app, env=env).stdout
    assert json.loads(loaded) == [str(app / "node_modules" / "flightcache-linux-x64-gnu"
                                      / "flightcache.linux-x64-gnu.node")], loaded


def test_npm_package_runs_the_readme_examples_without_rust(
        npm_app: tuple[Path, dict[str, str], str], reference_js_outputs: dict[str, str]) -> None:
    app, env, _ = npm_app
    for example in JS_EXAMPLES:
        shutil.copy(example, app)
        assert run(["node", example.name], cwd=app, env=env).stdout == reference_js_outputs[example.name], example


def test_npm_prebuilt_package_works_when_install_scripts_are_blocked(
        tmp_path: Path, reference_js_outputs: dict[str, str]) -> None:
    # npm warns that install scripts are "not yet covered by allowScripts" and may block them:
    # the prebuilt module is found when the package is loaded, not by the script.
    env = env_without_rust(tmp_path)
    app = new_npm_app(tmp_path)
    run(NPM_INSTALL + ["--offline", "--ignore-scripts", npm_platform(), npm_main()], cwd=app, env=env)
    shutil.copy(JS_EXAMPLES[0], app)
    assert run(["node", JS_EXAMPLES[0].name], cwd=app, env=env).stdout == reference_js_outputs[JS_EXAMPLES[0].name]


def test_typescript_compiles_the_readme_examples_against_the_installed_types(
        npm_app: tuple[Path, dict[str, str], str]) -> None:
    app, env, _ = npm_app
    tsc = TOOLS / "typescript" / "bin" / "tsc"
    assert tsc.exists(), "run make dist-test-tools"

    def compile_(files: list[str]) -> subprocess.CompletedProcess[str]:
        (app / "tsconfig.json").write_text(json.dumps({
            "compilerOptions": {
                "strict": True, "noEmit": True, "allowJs": True, "checkJs": True, "target": "es2022",
                "module": "nodenext", "moduleResolution": "nodenext",
                "types": ["node"], "typeRoots": [str(TOOLS / "@types")],
            },
            "files": files,
        }))
        return run(["node", tsc, "-p", "tsconfig.json", "--explainFiles"], cwd=app, env=env, check=False)

    for example in JS_EXAMPLES:
        shutil.copy(example, app)
    p = compile_([e.name for e in JS_EXAMPLES])
    assert p.returncode == 0, p.stdout
    # require() resolved the CommonJS types, import the ESM ones, both from the installed package.
    assert "node_modules/flightcache/index.d.ts" in p.stdout and "node_modules/flightcache/index.d.mts" in p.stdout

    # The types are enforced through both entries: a misuse they describe is an error.
    (app / "misuse.cts").write_text("import fc = require('flightcache')\nnew fc.Cache({ maxEntries: 'many' })\n")
    (app / "misuse.mts").write_text("import { Cache } from 'flightcache'\nnew Cache({ maxEntries: 'many' })\n")
    p = compile_(["misuse.cts", "misuse.mts"])
    errors = [line for line in p.stdout.splitlines() if "error TS2322" in line]
    assert p.returncode != 0 and len(errors) == 2 and {e.split("(")[0] for e in errors} == {"misuse.cts", "misuse.mts"}, \
        p.stdout


def test_npm_without_a_prebuilt_package_or_cargo_fails_saying_why(tmp_path: Path) -> None:
    env = env_without_rust(tmp_path)
    app = new_npm_app(tmp_path)
    p = run(NPM_INSTALL + ["--offline", "--omit=optional", npm_main()], cwd=app, env=env, check=False)
    log = p.stdout + p.stderr
    assert p.returncode != 0, log
    assert ("flightcache: the prebuilt package flightcache-linux-x64-gnu is not installed, and cargo was not "
            "found to build the native module from source") in log, log
    assert "https://rustup.rs" in log
    # Installed without running scripts, loading says the same.
    run(NPM_INSTALL + ["--offline", "--omit=optional", "--ignore-scripts", npm_main()], cwd=app, env=env)
    p = run(["node", "-e", "try { require('flightcache') } catch (e) { console.log(e.code); console.log(e.message) }"],
            cwd=app, env=env)
    code, *message = p.stdout.splitlines()
    assert code == "ERR_FLIGHTCACHE_NOT_BUILT", p.stdout
    assert "flightcache-linux-x64-gnu is not installed" in p.stdout and "https://rustup.rs" in p.stdout


def test_npm_main_package_builds_from_source_when_no_prebuilt_package_fits(
        tmp_path: Path, reference_js_outputs: dict[str, str]) -> None:
    app = new_npm_app(tmp_path)
    start = time.perf_counter()
    p = run(NPM_INSTALL + ["--offline", "--omit=optional", npm_main()], cwd=app)
    record("npm install of the main tarball, built from source with cargo", time.perf_counter() - start)
    log = p.stdout + p.stderr
    assert "flightcache: the prebuilt package flightcache-linux-x64-gnu is not installed; building" in log, log
    installed = app / "node_modules" / "flightcache"
    assert (installed / "flightcache.node").exists()
    assert not (installed / "rust" / "target").exists(), "the build left its target folder in node_modules"
    for example in JS_EXAMPLES:
        shutil.copy(example, app)
        assert run(["node", example.name], cwd=app).stdout == reference_js_outputs[example.name], example


# ------------------------------------------------------------------------ release workflows

WORKFLOWS = ROOT / ".github" / "workflows"


def test_release_workflows_pass_actionlint() -> None:
    lint = TOOLS / "@tktco" / "node-actionlint" / "bin" / "node-actionlint.js"
    assert lint.exists(), "run make dist-test-tools"
    p = run(["node", lint, "./.github/workflows/*.yml"], cwd=ROOT)
    assert "Checking 2 workflow file(s)" in p.stdout and "passed" in p.stdout, p.stdout


def test_linux_x86_64_release_jobs_run_what_make_dist_runs() -> None:
    python = yaml.safe_load((WORKFLOWS / "release-python.yml").read_text())["jobs"]
    node = yaml.safe_load((WORKFLOWS / "release-node.yml").read_text())["jobs"]

    def runs(job: dict[str, Any]) -> list[str]:
        return [step["run"].strip() for step in job["steps"] if "run" in step]

    assert runs(python["linux-x86_64"]) == ["make dist-wheel dist-sdist"]
    assert runs(node["linux-x64-gnu"]) == ["make dist-npm"]
    dist = re.search(r"^dist:(.*)$", (ROOT / "mk" / "dist.mk").read_text(), re.M)
    assert dist and set(dist.group(1).split()) == {"dist-wheel", "dist-sdist", "dist-npm"}

    # Every platform the main npm package lists is built, by make dist-npm or by the matrix.
    matrix = node["platforms"]["strategy"]["matrix"]["include"]
    assert {m["platform"] for m in matrix} | {"linux-x64-gnu"} == PLATFORMS.keys()
    for m in matrix:
        assert m["target"] == PLATFORMS[m["platform"]]["target"], m
    assert any("node packaging/npm_pack.js platform" in r for r in runs(node["platforms"]))
    wheels = {m["target"] for m in python["wheels"]["strategy"]["matrix"]["include"]}
    assert wheels == {"aarch64-unknown-linux-gnu", "x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl",
                      "x86_64-apple-darwin", "aarch64-apple-darwin", "x86_64-pc-windows-msvc"}
