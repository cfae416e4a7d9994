"""The example plugin, installed once per test session (pip, with its dist-info, so its
entry point is discovered as a user's would be), and loaded into the test process for
the tests that need its entries rather than a new interpreter."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import linkc

ROOT = Path(linkc.__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin"
DIST = "linkc-example-plugin"


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The plugin installed into a fresh directory (offline: no index, no build isolation)."""
    tmp = tmp_path_factory.mktemp("plugin")
    source = shutil.copytree(EXAMPLE, tmp / "src")  # the build writes into its source tree
    target = tmp / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    assert list(target.glob("linkc_example_plugin-*.dist-info/entry_points.txt"))
    return target


@pytest.fixture(scope="module")
def example(site):
    """The installed example plugin, loaded into this process as linkc loads a plugin, for
    the tests of one module; unloaded after, so other tests see the built-ins only."""
    from fuzz.plugin_faults import loaded

    with loaded(site, DIST):
        yield
