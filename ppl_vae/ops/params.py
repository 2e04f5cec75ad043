"""Pyro parameters that stay with their modules.

:func:`pyro.module` registers a module's parameters in Pyro's global param store under a name,
and when the store already holds that name it hands back the stored tensors. With a fixed name
per class, a second model or guide of the same class would be trained through the first one's
tensors: :class:`~pyro.infer.SVI` optimizes what the store hands back, and the second
module's own weights never move. :func:`register` names each module instance once, uniquely,
so that two models (or guides) in one process never share parameters, whatever the user does
with the store.

With ``pyro.settings.set(module_local_params=True)`` nothing is registered at all: a module's
parameters are its own, and an ELBO module (``elbo(model, guide)``, an :class:`~torch.nn.Module`)
gathers them for a :mod:`torch.optim` optimizer.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import pyro
from torch import nn

_serials: defaultdict[str, itertools.count] = defaultdict(itertools.count)
_NAME = "_pyro_param_name"  # attribute holding (id of the owner, name)


def param_name(module: nn.Module, prefix: str) -> str:
    """The name under which ``module``'s parameters are registered: ``prefix`` for the first
    module with that prefix in the process, then ``prefix_1``, ``prefix_2``, .... A copy of a
    module (``copy.deepcopy``, pickling) gets a name of its own."""
    owner, name = module.__dict__.get(_NAME, (None, None))
    if owner != id(module):
        serial = next(_serials[prefix])
        name = prefix if serial == 0 else f"{prefix}_{serial}"
        module.__dict__[_NAME] = (id(module), name)
    return name


def register(module: nn.Module, prefix: str) -> nn.Module:
    """:func:`pyro.module` under the module's own name (see :func:`param_name`), or nothing
    when Pyro's ``module_local_params`` setting is on."""
    if pyro.settings.get("module_local_params"):
        return module
    return pyro.module(param_name(module, prefix), module)
