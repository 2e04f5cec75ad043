"""The training configuration: a small dataclass saved inside every checkpoint."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class TrainConfig:
    """Everything needed to rebuild and continue a run.

    ``model_kwargs`` / ``guide_kwargs`` are passed to the constructors of the named model and
    guide (see :mod:`ppl_vae.runs.registry`); ``data`` is the corpus source from which the same
    splits
    can be loaded again.
    """

    model: str = "nvdm"
    guide: str = "diagonal"
    latent_dim: int = 50
    model_kwargs: dict = field(default_factory=dict)
    guide_kwargs: dict = field(default_factory=dict)
    data: dict = field(default_factory=lambda: {"kind": "synthetic"})

    objective: str = "meanfield"  # "trace" (Trace_ELBO) or "meanfield" (TraceMeanField_ELBO)
    num_particles: int = 1
    cd_steps: int = 1  # Gibbs steps of contrastive divergence (objective "cd"): CD-k
    free_bits: float = 0.5  # nats per latent dimension, for objective "free-bits"
    anneal: str = "constant"  # constant | linear | sigmoid | cyclical
    beta: float = 1.0  # constant beta, or the final beta of a warm-up
    beta_start: float = 0.0
    anneal_epochs: float = 0.0  # warm-up length (or cycle length) in epochs

    epochs: int = 200
    batch_size: int = 64
    lr: float = 5e-4
    lr_decay: float = 1.0  # lr multiplied by this after every epoch
    lr_drop: float = 1.0  # and by this after every epoch whose validation ELBO did not improve
    weight_decay: float = 0.0  # decoupled (AdamW) when > 0; L2 for "sgd"
    optimizer: str = "adam"  # "adam" (AdamW with weight decay) or "sgd" (with momentum)
    momentum: float = 0.9  # for "sgd"
    ema_decay: float = 0.0  # evaluate an exponential moving average of the weights; 0 = off
    clip_norm: float | None = None
    patience: int = 0  # early stopping: epochs without validation improvement; 0 = off
    valid_samples: int = 1
    #: the document encoders' first layer reads CSR input (:mod:`ppl_vae.ops.count_input`);
    #: None: measured on the first batch when the run starts, and the answer saved here
    sparse_input: bool | None = None
    seed: int = 0
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**d)
