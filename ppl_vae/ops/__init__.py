"""Pure helpers shared by several layers: trace utilities, perplexity, exact enumeration,
per-item refinement, the model-side KL weight, module-local parameter names and a forked RNG.

Nothing here imports models, guides, objectives, evaluation or training.
"""
