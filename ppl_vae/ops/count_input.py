r"""The input layers of the document encoders: an MLP over a bag of words, fed dense or sparse.

A 20 Newsgroups document uses about 3% of the 2,000-word vocabulary, so the first layer's
product ``f(x) W^T`` over a dense ``(B, V)`` count matrix mostly multiplies zeros.
:class:`CountMLP` can instead hand that layer a compressed-sparse-row (CSR) copy of ``f(x)``
(``f`` is ``log1p`` or the identity, both of which keep zeros zero), which cuts the forward
product and the weight gradient ``f(x)^T grad`` to the non-zero entries. The result is the
same up to float rounding (the sums run in another order): tested to 1e-5, outputs and
gradients.

Whether sparse input is *faster* depends on the density, the layer's width, the thread count
and the CPU's sparse kernels, so it is measured, not assumed: :func:`choose_sparse_input`
times the first layers' forward and backward passes both ways on a real batch, and the
trainer calls it once at the start of a run and stores the answer in the run's config
(``sparse_input``), so a resumed run takes the same path.
"""

from __future__ import annotations

import logging
import statistics
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

logger = logging.getLogger(__name__)

#: what the encoders feed their first layer: ``log(1 + x)`` or the raw counts
INPUT_TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "log1p": torch.log1p,
    "counts": lambda x: x,
}


def mlp(
    sizes: list[int], activation: type[nn.Module] = nn.ReLU, dropout: float = 0.0
) -> nn.Sequential:
    """Linear layers of the given sizes, each followed by ``activation`` (and dropout if > 0)."""
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class CountMLP(nn.Sequential):
    """``layers`` applied to ``INPUT_TRANSFORMS[transform](x)`` for a ``(batch, V)`` count
    matrix ``x``: an MLP of the given ``sizes`` (and a linear ``head`` after it, if given). Its
    parameters are named, and initialized in the same order, as those of
    ``nn.Sequential(*mlp(sizes), nn.Linear(sizes[-1], head))``.

    With :attr:`sparse` set, the first layer reads a CSR copy of the transformed counts
    (:func:`sparse_linear`); the other layers are unchanged.

    :param sizes: ``[V, h_1, ..., h_L]``; ``[V]`` alone is no layer at all (the identity).
    :param transform: a key of :data:`INPUT_TRANSFORMS`.
    :param dropout: dropout after each hidden layer, in training mode.
    :param head: the output width of a linear layer applied last (e.g. 1), built after the
        MLP's layers.
    """

    def __init__(
        self,
        sizes: list[int],
        transform: str = "log1p",
        dropout: float = 0.0,
        head: int | None = None,
    ) -> None:
        if transform not in INPUT_TRANSFORMS:
            raise ValueError(f"input_transform must be one of {sorted(INPUT_TRANSFORMS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        layers = list(mlp(sizes, dropout=dropout))
        if head is not None:
            layers.append(nn.Linear(sizes[-1], head))
        super().__init__(*layers)
        self.transform = transform
        #: the width of the MLP's output before ``head`` (``V`` when it has no layer)
        self.width = sizes[-1]
        #: feed the first layer a CSR tensor (see the module's docstring)
        self.sparse = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = list(self)
        if self.sparse and layers and isinstance(layers[0], nn.Linear):
            h = sparse_linear(x, layers[0], self.transform)
            layers = layers[1:]
        else:
            h = INPUT_TRANSFORMS[self.transform](x)
        for layer in layers:
            h = layer(h)
        return h


def sparse_linear(x: torch.Tensor, linear: nn.Linear, transform: str = "log1p") -> torch.Tensor:
    """``linear(f(x))`` computed from a CSR copy of ``f(x)``, ``f = INPUT_TRANSFORMS[transform]``
    (which maps 0 to 0). Differentiable in ``linear``'s parameters (not in ``x``)."""
    with warnings.catch_warnings():  # torch calls its CSR support "beta" at the first use
        warnings.simplefilter("ignore", UserWarning)
        values = x.detach().to_sparse_csr()
        csr = torch.sparse_csr_tensor(
            values.crow_indices(),
            values.col_indices(),
            INPUT_TRANSFORMS[transform](values.values()),
            values.shape,
        )
    return torch.addmm(linear.bias, csr, linear.weight.t())


#: sparse input is chosen only if it takes less than this share of the dense time, so that two
#: runs on one machine rarely choose differently (the two paths agree only to float rounding)
SPARSE_MARGIN = 0.9


def count_mlps(*modules: nn.Module) -> list[CountMLP]:
    """Every :class:`CountMLP` inside ``modules`` (guides, their baseline networks)."""
    return [m for module in modules for m in module.modules() if isinstance(m, CountMLP)]


def set_sparse_input(on: bool, *modules: nn.Module) -> None:
    """Feed the first layer of every :class:`CountMLP` in ``modules`` sparse (or dense) input."""
    for m in count_mlps(*modules):
        m.sparse = on


def choose_sparse_input(x: torch.Tensor, *modules: nn.Module, rounds: int = 7) -> bool | None:
    """Whether sparse input is faster for the first layers of the :class:`CountMLP` in
    ``modules`` on the batch ``x``: forward and backward (to the weights) of each, timed dense
    and sparse in ``rounds`` alternating rounds after a warm-up, medians compared; sparse wins
    below :data:`SPARSE_MARGIN` of the dense time. None if ``modules`` hold no such layer.
    Uses the current torch thread setting.

    A timing depends on the machine and its load, so two runs may choose differently; the
    choice is logged and saved in the run's config, and ``--sparse-input on|off`` fixes it
    where runs must match bit for bit."""
    mlps = count_mlps(*modules)
    firsts = [m[0] for m in mlps if len(m) and isinstance(m[0], nn.Linear)]
    if not firsts:
        return None
    transform = mlps[0].transform

    def dense() -> None:
        for layer in firsts:
            layer(INPUT_TRANSFORMS[transform](x)).sum().backward()

    def sparse() -> None:
        for layer in firsts:
            sparse_linear(x, layer, transform).sum().backward()

    saved = [(p, p.grad) for layer in firsts for p in layer.parameters()]
    for p, _ in saved:  # backward would add into them in place
        p.grad = None
    times: dict[str, list[float]] = {"dense": [], "sparse": []}
    with torch.enable_grad():
        for step in range(rounds + 1):
            for name, run in (("dense", dense), ("sparse", sparse)):
                start = time.perf_counter()
                run()
                if step:  # the first round warms up
                    times[name].append(time.perf_counter() - start)
    for p, grad in saved:  # leave the gradients as they were
        p.grad = grad
    med = {name: statistics.median(ts) for name, ts in times.items()}
    density = float((x != 0).float().mean())
    choice = med["sparse"] < SPARSE_MARGIN * med["dense"]
    logger.info(
        "encoder input: %s (first layer forward+backward %.2f ms sparse, %.2f ms dense, on a "
        "batch of density %.3f, %d thread(s))",
        "sparse (CSR)" if choice else "dense", 1e3 * med["sparse"], 1e3 * med["dense"], density,
        torch.get_num_threads(),
    )  # fmt: skip
    return choice
