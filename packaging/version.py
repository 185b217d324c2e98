#!/usr/bin/env python3
"""The release version has one home: `[workspace.package] version` in the root Cargo.toml.

    python3 packaging/version.py           prints it
    python3 packaging/version.py --check   fails when a copy elsewhere has drifted

maturin reads the version from Cargo.toml (pyproject.toml declares it dynamic), the Python
package asks its installed metadata, and the npm packages get it when they are packed
(packaging/npm_pack.js). package.json is the one file whose format forces a copy: --check
compares it, and the few other copies a file format forces (LICENSE beside pyproject.toml,
the repository URL in both manifests).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def workspace_version() -> str:
    with open(ROOT / "Cargo.toml", "rb") as f:
        cargo = tomllib.load(f)
    try:
        version = cargo["workspace"]["package"]["version"]
    except KeyError:
        sys.exit("packaging/version.py: Cargo.toml has no [workspace.package] version")
    if not isinstance(version, str) or not re.fullmatch(r"\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?", version):
        sys.exit(f"packaging/version.py: [workspace.package] version {version!r} is not a semantic version")
    return version


def problems(version: str) -> list[str]:
    found = []

    for crate in ("core", "bindings-python", "bindings-node"):
        with open(ROOT / crate / "Cargo.toml", "rb") as f:
            package = tomllib.load(f)["package"]
        if package.get("version") != {"workspace": True}:
            found.append(f"{crate}/Cargo.toml: version must be `version.workspace = true`, not {package.get('version')!r}")

    with open(ROOT / "bindings-python" / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    if "version" in project:
        found.append(f"bindings-python/pyproject.toml: [project] sets version {project['version']!r}; "
                     "it must be dynamic (maturin takes it from Cargo.toml)")
    if "version" not in project.get("dynamic", []):
        found.append('bindings-python/pyproject.toml: [project] must declare dynamic = ["version"]')

    init = (ROOT / "bindings-python" / "python" / "flightcache" / "__init__.py").read_text()
    literal = re.search(r"^__version__\s*(:\s*str\s*)?=\s*['\"]", init, re.M)
    if literal:
        found.append("bindings-python/python/flightcache/__init__.py: __version__ is a literal; "
                     "it must come from the installed metadata")

    package_json = json.loads((ROOT / "bindings-node" / "package.json").read_text())
    if package_json.get("version") != version:
        found.append(f"bindings-node/package.json: version {package_json.get('version')!r} differs from "
                     f"the workspace version {version!r} (root Cargo.toml)")

    repository = package_json.get("repository", {})
    url = repository.get("url", "") if isinstance(repository, dict) else repository
    expected = project.get("urls", {}).get("Repository")
    if not expected or url.removeprefix("git+").removesuffix(".git") != expected:
        found.append(f"bindings-node/package.json: repository {url!r} differs from pyproject.toml's "
                     f"Repository URL {expected!r}")

    if (ROOT / "LICENSE").read_bytes() != (ROOT / "bindings-python" / "LICENSE").read_bytes():
        found.append("bindings-python/LICENSE differs from LICENSE (maturin ships the one beside pyproject.toml)")
    return found


def main() -> None:
    version = workspace_version()
    if sys.argv[1:] == ["--check"]:
        found = problems(version)
        for p in found:
            print(p, file=sys.stderr)
        if found:
            sys.exit(f"packaging/version.py --check: {len(found)} copies drifted from the workspace version {version}")
        print(f"version-check: {version} everywhere (root Cargo.toml is the source)")
    elif sys.argv[1:] == []:
        print(version)
    else:
        sys.exit(f"usage: {sys.argv[0]} [--check]")


if __name__ == "__main__":
    main()
