"""What every guide of the library declares about itself.

The registry, the trainer and the CLI read these facts from the guide's class: which model it
fits, whether its samples are reparameterized, whether its KL to the prior is analytic, which
objective trains it by default and with what gradient clipping. Which objectives refuse a
guide follows from these facts and the objective's own (see
:meth:`ppl_vae.infer.base.Objective.refusal`); there is no table of pairings elsewhere.
"""

from __future__ import annotations

from typing import ClassVar

from torch import nn


class Guide(nn.Module):
    """Base of the library's guides: an :class:`~torch.nn.Module` with class-level facts.

    A guide is called with the same arguments as its model and samples the model's latent
    sites (``"z"``) inside the model's data plate.
    """

    #: the name under which configs and the command line know the guide
    name: ClassVar[str] = ""
    #: names of the models (:attr:`ppl_vae.models.NVDM.name`, ...) whose latent sites it samples
    fits: ClassVar[tuple[str, ...]] = ()
    #: its samples carry a reparameterized path to the guide's parameters
    reparameterized: ClassVar[bool] = True
    #: Pyro knows ``KL(q(z | x) || p(z))`` in closed form (per latent dimension)
    analytic_kl: ClassVar[bool] = True
    #: it samples a latent variable at all (a guide for a model without one does not)
    has_latent: ClassVar[bool] = True
    #: the objective that trains it when none is named
    default_objective: ClassVar[str] = "meanfield"
    #: per-parameter gradient norm clipping when none is asked for (None: no clipping)
    default_clip_norm: ClassVar[float | None] = None
    #: it runs the model itself (and is built with it, as ``model=``)
    needs_model: ClassVar[bool] = False
    #: ``q(z | x)`` is the diagonal Gaussian ``encode(x)`` returns, drawn as
    #: ``loc + scale * eps``, so evaluation may draw it without tracing the guide
    closed_form_gaussian: ClassVar[bool] = False
    #: ``q(z | x)`` is a point mass (an autoencoder's code): there is no KL, no mutual
    #: information and nothing to importance-sample, and the model's prior is flat, so the
    #: "ELBO" is the reconstruction log-likelihood rather than a bound on ``log p(x)``
    deterministic: ClassVar[bool] = False
    #: ``q(z | x)`` is the model's own exact conditional ``P(z | x)`` (an RBM's), which
    #: contrastive divergence needs
    exact_conditional: ClassVar[bool] = False
    #: it has a network of its own, configured by ``guide_kwargs`` (the data kind's preset
    #: sizes apply to it)
    has_network: ClassVar[bool] = True
    #: the only objectives that can train it, or None for any its other facts allow
    objectives: ClassVar[tuple[str, ...] | None] = None
