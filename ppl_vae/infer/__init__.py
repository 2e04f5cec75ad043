"""Inference: the objectives that train a model/guide pair (ELBOs, free bits, IWAE, NVIL,
wake-sleep, reweighted wake-sleep), each usable with :class:`~pyro.infer.SVI` and as a
module-local loss ``objective(model, guide)``; and EM and enumerated SVI for the mixture of
multinomials.
"""
