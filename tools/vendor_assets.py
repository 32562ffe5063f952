"""Fetch the JavaScript the built book needs so that it renders with no network at reading time.

MathJax 3 (equations), RequireJS and the ipywidgets HTML manager (saved widgets) are taken from the
npm registry as pinned tarballs, checked against their published sha512 integrity, and unpacked into
``_vendor/`` (ignored by git). The book's Sphinx extension ``book/_ext/cnm_book_site.py`` serves them
from the book's ``_static`` folder when ``_vendor/`` is complete, and falls back to the public CDNs
otherwise. Nothing here runs at build time: ``make book`` calls it once, like ``pip install``.

Usage: ``python tools/vendor_assets.py [target_dir]`` (default ``_vendor``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"

# name, version, sha512 integrity (from `npm view NAME@VERSION dist.integrity`),
# and which members of the tarball to keep: (prefix inside the tarball, destination folder).
PACKAGES = [
    (
        "mathjax",
        "3.2.2",
        "Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        [("package/es5/", "mathjax/")],
    ),
    (
        "@jupyter-widgets/html-manager",
        "1.0.15",
        "5thBIV6ymNgmPVOHvzx+gGy8ZSKmSazhtGw4/c4xJDVzRhG9PTeQsRjF3FUTopvFi//SABeNz1yp47bCrJ3CQA==",
        [("package/dist/", "html-manager/")],
    ),
    (
        "requirejs",
        "2.3.8",
        "7/cTSLOdYkNBNJcDMWf+luFvMriVm7eYxp4BcFCsAX0wF421Vyce5SXP17c+Jd5otXKGNehIonFlyQXSowL6Mw==",
        [("package/require.js", "require.js")],
    ),
]

# Files of the html-manager bundle that the page never loads (source maps, the non-AMD bundles).
SKIP_SUFFIXES = (".map", "/embed.js", "/libembed-amd.js", ".LICENSE.txt")
MARKER = "VERSIONS.json"


def tarball_url(name: str, version: str) -> str:
    return f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"


def fetch_verified(name: str, version: str, integrity: str) -> bytes:
    url = tarball_url(name, version)
    with urllib.request.urlopen(url, timeout=120) as response:
        data = response.read()
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise SystemExit(f"{url}: sha512 {digest} does not match the pinned integrity {integrity}")
    return data


def unpack(data: bytes, keep: list[tuple[str, str]], target: Path) -> int:
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile() or member.name.endswith(SKIP_SUFFIXES):
                continue
            for prefix, destination in keep:
                if member.name == prefix or (prefix.endswith("/") and member.name.startswith(prefix)):
                    relative = destination + member.name[len(prefix) :]
                    path = target / relative
                    if ".." in Path(relative).parts:
                        raise SystemExit(f"refusing tarball member outside the target: {member.name}")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(archive.extractfile(member).read())
                    count += 1
    return count


def expected_versions() -> dict[str, str]:
    return {name: version for name, version, _, _ in PACKAGES}


def is_complete(target: Path) -> bool:
    marker = target / MARKER
    return marker.is_file() and json.loads(marker.read_text()) == expected_versions()


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "_vendor").resolve()
    if is_complete(target):
        print(f"vendored assets are up to date in {target.name}/")
        return 0
    staging = Path(tempfile.mkdtemp(prefix=".vendor-", dir=target.parent))
    try:
        for name, version, integrity, keep in PACKAGES:
            files = unpack(fetch_verified(name, version, integrity), keep, staging)
            print(f"vendored {name}@{version}: {files} files")
        (staging / MARKER).write_text(json.dumps(expected_versions(), indent=1) + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # atomic on one file system: a half-written _vendor never exists
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
