"""Models and guides by name, so that a saved config can rebuild them.

The tables here are *gathered* from the classes that :mod:`ppl_vae.models` and
:mod:`ppl_vae.guides` export: a model class with a ``default_guide`` and a guide class with a
``name`` are offered under those names. Everything else (which guide fits which model, the
default objective and clipping, which pairings are refused) is read from the classes' facts
(:class:`ppl_vae.guides.base.Guide`, :class:`ppl_vae.infer.base.Objective`).
"""

from __future__ import annotations

import ppl_vae.guides as _guides
import ppl_vae.models as _models
from ppl_vae.config import TrainConfig
from ppl_vae.guides.base import Guide
from ppl_vae.infer.objectives import check_combination
from ppl_vae.ops.count_input import set_sparse_input

#: the models trained by SVI, by name
MODELS: dict[str, type] = {
    cls.name: cls
    for cls in (getattr(_models, n) for n in _models.__all__)
    if getattr(cls, "default_guide", None)
}
#: the guides, by name
GUIDE_CLASSES: dict[str, type[Guide]] = {
    cls.name: cls
    for cls in (getattr(_guides, n) for n in _guides.__all__)
    if isinstance(cls, type) and issubclass(cls, Guide) and cls.name
}
#: the guides that fit each model, by name
GUIDES: dict[str, dict[str, type[Guide]]] = {
    model: {name: cls for name, cls in GUIDE_CLASSES.items() if model in cls.fits}
    for model in MODELS
}
#: the models that read sentences rather than bags of words
SENTENCE_MODELS = tuple(name for name, cls in MODELS.items() if cls.data == "sentences")


def model_class(name: str) -> type:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    return MODELS[name]


def guide_class(model: str, name: str) -> type[Guide]:
    """The guide called ``name`` if it fits ``model``; ``ValueError`` naming the choices if not."""
    guides = GUIDES[model_class(model).name]
    if name not in guides:
        raise ValueError(
            f"guide {name!r} does not fit model {model!r}; choose from {', '.join(sorted(guides))}"
        )
    return guides[name]


def build(config: TrainConfig, vocab_size: int) -> tuple:
    """The model and guide named in ``config``, freshly initialized."""
    model_cls = model_class(config.model)
    guide_cls = guide_class(config.model, config.guide)
    check_combination(guide_cls, config.objective)
    make = getattr(model_cls, "build", model_cls)
    model = make(vocab_size, config.latent_dim, **config.model_kwargs)
    extra = {"model": model} if guide_cls.needs_model else {}
    guide = guide_cls(vocab_size, config.latent_dim, **config.guide_kwargs, **extra)
    set_sparse_input(bool(config.sparse_input), guide)
    return model, guide
