"""Imports point one way: data, ops → models, guides → infer → evaluation → training → runs →
cli. A module may import its own layer and the layers below it, never one above."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = {
    "ppl_vae.data": 0,
    "ppl_vae.ops": 0,
    "ppl_vae.distributions": 0,
    "ppl_vae.config": 0,
    "ppl_vae.models": 1,
    "ppl_vae.guides": 1,
    "ppl_vae.infer": 2,
    "ppl_vae.evaluation": 3,
    "ppl_vae.training": 4,
    "ppl_vae.runs": 5,
    "ppl_vae.cli": 6,
}
# kept for scripts written before the layered layout: they re-export, and nothing imports them
SHIMS = {"ppl_vae.objectives", "ppl_vae.posterior", "ppl_vae.annealing"}


def layer(module: str) -> int | None:
    return next((n for p, n in LAYERS.items() if module == p or module.startswith(p + ".")), None)


def modules():
    places = {"ppl_vae": ROOT / "ppl_vae", "ppl_vae.models": ROOT / "models",
              "ppl_vae.guides": ROOT / "guides"}  # fmt: skip
    for package, folder in places.items():
        for path in sorted(folder.rglob("*.py")):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            if name not in SHIMS and name not in ("ppl_vae", "ppl_vae.__main__"):
                yield name, path


@pytest.mark.parametrize("name, path", list(modules()), ids=lambda v: str(v).split("/")[-1])
def test_imports_point_down(name, path):
    own = layer(name)
    assert own is not None, f"{name} belongs to no layer"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            imported = [node.module or ""]
        elif isinstance(node, ast.Import):
            imported = [alias.name for alias in node.names]
        else:
            continue
        for module in (m for m in imported if m.startswith("ppl_vae")):
            target = layer(module)
            assert target is not None and target <= own, f"{name} imports {module}"


def test_the_check_catches_an_upward_import(tmp_path):
    upward = tmp_path / "bad.py"
    upward.write_text("from ppl_vae.training import train\n")
    with pytest.raises(AssertionError, match="imports ppl_vae.training"):
        test_imports_point_down("ppl_vae.infer.bad", upward)
