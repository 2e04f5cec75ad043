"""Every subpackage is installed: a wheel holds only the packages pyproject.toml lists."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_pyproject_lists_every_package():
    text = (ROOT / "pyproject.toml").read_text()
    listed = set(
        re.findall(r'"(ppl_vae[\w.]*)"', re.search(r"packages = \[(.*?)\]", text, re.S)[1])
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "ppl_vae").rglob("__init__.py")
    }
    assert found | {"ppl_vae.models", "ppl_vae.guides"} == listed
