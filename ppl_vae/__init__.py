"""ppl-vae: deep generative models of text as Pyro models and guides.

Models live in :mod:`ppl_vae.models`, inference networks in :mod:`ppl_vae.guides`; train any
pair with :class:`pyro.infer.SVI` or :func:`ppl_vae.training.train`, and evaluate with
:func:`ppl_vae.evaluation.evaluate`.
"""

__version__ = "0.1.0"
