import subprocess
import sys

SCRIPT = """
import importlib, pkgutil, sys
import matplotlib
matplotlib.use("svg")  # a user's choice, which importing the library must not change
import ppl_vae
names = [m.name for m in pkgutil.walk_packages(ppl_vae.__path__, "ppl_vae.")]
names = [n for n in names if not n.endswith("__main__")]  # the entry point runs the CLI
for name in names:
    importlib.import_module(name)
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
assert "arviz" not in sys.modules  # the optional extra is imported on first use
print(len(names))
"""


def test_importing_every_module_has_no_side_effects():
    """No backend switch, no pyplot, no optional extra: every module of ``ppl_vae`` (models,
    guides and data included) imported in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 40
