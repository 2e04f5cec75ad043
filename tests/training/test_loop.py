import math
import os
import signal

import pyro
import pytest
import torch

from ppl_vae.config import TrainConfig
from ppl_vae.models import NVDM
from ppl_vae.runs import read_metrics
from ppl_vae.runs.registry import build
from ppl_vae.training import BEST, CHECKPOINT, TrainingDiverged, train
from ppl_vae.training.checkpoint import load_checkpoint


def setup(corpus, epochs, **overrides):
    settings = dict(
        latent_dim=3,
        guide_kwargs={"hidden_sizes": [16]},
        epochs=epochs,
        batch_size=32,
        lr=1e-2,
        seed=0,
        sparse_input=False,  # fixed, not timed: fresh runs are compared bit for bit
    )
    cfg = TrainConfig(**{**settings, **overrides})
    pyro.set_rng_seed(0)
    model, guide = build(cfg, corpus.train.vocab_size)
    return cfg, model, guide


def run(corpus, epochs, run_dir, resume=False, train_data=None, **overrides):
    cfg, model, guide = setup(corpus, epochs, **overrides)
    result = train(
        model,
        guide,
        train_data or corpus.train,
        corpus.valid,
        cfg,
        run_dir=run_dir,
        resume=resume,
        progress=False,
    )
    return result, model, guide


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


class Interrupt:
    """Wraps a corpus; sends ``signum`` to this process while making batch number ``at``."""

    def __init__(self, corpus, at, signum):
        self.corpus, self.at, self.signum, self.calls = corpus, at, signum, 0

    def __len__(self):
        return len(self.corpus)

    def batch_indices(self, *args, **kwargs):
        return self.corpus.batch_indices(*args, **kwargs)

    def make_batch(self, idx, device):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), self.signum)
        return self.corpus.make_batch(idx, device)


def test_training_writes_metrics_and_improves(tmp_path, tiny_corpus):
    result, _, _ = run(tiny_corpus, 4, tmp_path)
    records = read_metrics(tmp_path)
    assert result.status == "completed" and [r["epoch"] for r in records] == [1, 2, 3, 4]
    assert records[-1]["valid_elbo"] > records[0]["valid_elbo"]
    assert {"train_loss", "train_kl", "beta", "valid_kl", "valid_active_units"} <= set(records[0])
    assert all(r["tokens_per_second"] > 0 for r in records)  # the rate of every epoch
    assert (tmp_path / BEST).exists()


@pytest.mark.parametrize("ema", [0.0, 0.9], ids=["last-weights", "averaged-weights"])
def test_resume_at_epoch_boundary_matches_an_uninterrupted_run(tmp_path, tiny_corpus, ema):
    _, full_model, full_guide = run(tiny_corpus, 3, tmp_path / "full", ema_decay=ema)
    run(tiny_corpus, 2, tmp_path / "split", ema_decay=ema)
    result, model, guide = run(tiny_corpus, 3, tmp_path / "split", resume=True, ema_decay=ema)
    assert result.state.epoch == 3
    assert same_weights(model, full_model) and same_weights(guide, full_guide)
    timed = ("seconds", "tokens_per_second")
    untimed = lambda rs: [{k: v for k, v in r.items() if k not in timed} for r in rs]  # noqa: E731
    assert untimed(read_metrics(tmp_path / "split")) == untimed(read_metrics(tmp_path / "full"))


def test_a_mixture_prior_run_resumes_exactly(tmp_path, tiny_corpus):
    # two optimizer groups (the prior's parameters are not decayed) survive the checkpoint
    extra = dict(model_kwargs={"prior_components": 3}, weight_decay=0.05, ema_decay=0.9)
    _, full_model, full_guide = run(tiny_corpus, 3, tmp_path / "full", **extra)
    run(tiny_corpus, 2, tmp_path / "split", **extra)
    result, model, guide = run(tiny_corpus, 3, tmp_path / "split", resume=True, **extra)
    assert result.state.epoch == 3
    assert same_weights(model, full_model) and same_weights(guide, full_guide)
    _, start, _ = setup(tiny_corpus, 3, **extra)  # the same seed: the prior as it started
    assert not torch.allclose(model.prior_loc, start.prior_loc)  # the prior was trained


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_epoch_saves_a_checkpoint_that_resumes_exactly(tmp_path, tiny_corpus, signum):
    _, full_model, full_guide = run(tiny_corpus, 2, tmp_path / "full")
    interrupted = Interrupt(tiny_corpus.train, at=11, signum=signum)  # epoch 2, batch 3
    result, _, _ = run(tiny_corpus, 2, tmp_path / "cut", train_data=interrupted)
    assert result.status == "interrupted" and result.signum == signum
    saved = load_checkpoint(tmp_path / "cut" / CHECKPOINT)["state"]
    assert (saved["epoch"], saved["batch"], saved["step"]) == (1, 3, 11)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    result, model, guide = run(tiny_corpus, 2, tmp_path / "cut", resume=True)
    assert result.status == "completed"
    assert same_weights(model, full_model) and same_weights(guide, full_guide)


class NaNAfter(NVDM):
    def __init__(self, *args, at, **kwargs):
        super().__init__(*args, **kwargs)
        self.at, self.calls = at, 0

    def forward(self, x, annealing_factor=1.0):
        z = super().forward(x, annealing_factor)
        self.calls += torch.is_grad_enabled()  # count SVI steps, not KL logging or validation
        if self.calls >= self.at:
            pyro.factor("boom", torch.tensor(math.nan))
        return z


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(
    tmp_path, tiny_corpus
):
    cfg, _, guide = setup(tiny_corpus, 5)
    model = NaNAfter(tiny_corpus.train.vocab_size, 3, at=20)  # epoch 3 (8 steps per epoch)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at epoch 3, step 20") as err:
        train(
            model,
            guide,
            tiny_corpus.train,
            tiny_corpus.valid,
            cfg,
            run_dir=tmp_path,
            progress=False,
        )
    assert str(tmp_path / CHECKPOINT) in str(err.value)
    payload = load_checkpoint(tmp_path / CHECKPOINT)
    assert payload["state"]["epoch"] == 2 and payload["state"]["step"] == 16
    assert all(torch.isfinite(t).all() for t in payload["model"].values())


def test_beta_zero_trains(tmp_path, tiny_corpus):
    result, _, _ = run(tiny_corpus, 1, tmp_path, beta=0.0)
    assert result.status == "completed"
    assert read_metrics(tmp_path)[0]["beta"] == 0.0


def test_annealing_schedule_is_logged(tmp_path, tiny_corpus):
    run(tiny_corpus, 3, tmp_path, anneal="linear", anneal_epochs=2.0)
    betas = [r["beta"] for r in read_metrics(tmp_path)]
    assert betas[0] < betas[1] <= betas[2] == 1.0


def test_early_stopping(tmp_path, tiny_corpus):
    result, _, _ = run(tiny_corpus, 50, tmp_path, patience=1, lr=0.5)
    assert result.status == "early_stopped" and result.state.epoch < 50


def test_load_run_evaluates_the_averaged_weights(tmp_path, tiny_corpus):
    from ppl_vae.runs import load_run, run_training

    cfg, _, _ = setup(tiny_corpus, 2, ema_decay=0.9, data=tiny_corpus.source)
    run_training(cfg, tmp_path, progress=False)
    payload = load_checkpoint(tmp_path / CHECKPOINT)
    averaged = payload["average"]["weights"][0]["decoder.weight"]
    assert not torch.equal(averaged, payload["model"]["decoder.weight"])
    loaded = load_run(tmp_path, which="last")
    assert torch.equal(loaded.model.decoder.weight.detach(), averaged)


def test_validation_uses_common_random_numbers(tmp_path, tiny_corpus):
    """With lr = 0 the weights never change, so every epoch's validation must be identical."""
    run(tiny_corpus, 3, tmp_path, lr=0.0)
    records = read_metrics(tmp_path)
    assert len({r["valid_elbo"] for r in records}) == 1
    assert len({r["valid_kl"] for r in records}) == 1


def test_lr_drops_after_each_epoch_without_validation_improvement(tmp_path, tiny_corpus):
    run(tiny_corpus, 8, tmp_path, lr=0.1, lr_decay=0.9, lr_drop=0.5)
    records = read_metrics(tmp_path)
    best, stalled = -math.inf, []
    for record in records:
        stalled.append(record["valid_elbo"] <= best)
        best = max(best, record["valid_elbo"])
    for before, after, stall in zip(records, records[1:], stalled):
        assert after["lr"] == pytest.approx(before["lr"] * 0.9 * (0.5 if stall else 1.0))
    assert 1 <= sum(stalled) < len(records)  # these settings stall, so both branches ran
    saved = load_checkpoint(tmp_path / CHECKPOINT)["state"]
    assert saved["lr_scale"] == pytest.approx(0.5 ** sum(stalled))


class SpikeIn(NVDM):
    """NVDM whose loss is multiplied by 40 during the SVI steps of epoch ``epoch`` (8 steps per
    epoch on the tiny corpus): a forced loss spike, as a diverging guide would give."""

    def __init__(self, *args, epoch, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch, self.calls = epoch, 0

    def forward(self, x, annealing_factor=1.0):
        z = super().forward(x, annealing_factor)
        if torch.is_grad_enabled():  # SVI steps, not KL logging or validation
            self.calls += 1
            if (self.calls - 1) // 8 == self.epoch - 1:
                pyro.factor("spike", -39 * x.sum() * math.log(x.shape[-1]))
        return z


def test_a_loss_spike_is_warned_in_the_log_and_in_the_metrics(tmp_path, tiny_corpus, caplog):
    cfg, _, guide = setup(tiny_corpus, 5)
    model = SpikeIn(tiny_corpus.train.vocab_size, 3, epoch=4)
    with caplog.at_level("WARNING", logger="ppl_vae.training"):
        train(model, guide, tiny_corpus.train, tiny_corpus.valid, cfg, tmp_path, progress=False)
    records = read_metrics(tmp_path)
    assert [("warning" in r) for r in records] == [False, False, False, True, False]
    assert records[3]["train_loss"] > 20 * records[2]["train_loss"]
    assert "training may be diverging" in records[3]["warning"]
    assert any("epoch 4: training loss" in m for m in caplog.messages)


@pytest.mark.parametrize(
    "loss, earlier, spike",
    [
        (650.0, [720.0, 700.0, 680.0], False),
        (1500.0, [720.0, 700.0, 680.0], True),
        (1300.0, [720.0, 700.0, 680.0], False),  # under 2x the median (700)
        (700.0, [], False),  # nothing to compare with
        (-90.0, [-100.0, -101.0], False),  # negative losses: above by 0.1 of the median's size
        (10.0, [-100.0, -101.0], True),  # above by more than the median's size
    ],
    ids=["falling", "twice-the-median", "under-the-factor", "first-epoch", "neg-ok", "neg-spike"],
)
def test_loss_spike_rule(loss, earlier, spike):
    from ppl_vae.training import loss_spike

    assert (loss_spike(loss, earlier) is not None) == spike


def test_training_leaves_the_callers_param_store_and_rng_alone(tmp_path, tiny_corpus):
    pyro.param("someone_elses", torch.ones(2))
    cfg, model, guide = setup(tiny_corpus, 1)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(model, guide, tiny_corpus.train, tiny_corpus.valid, cfg, tmp_path, progress=False)
    assert "someone_elses" in pyro.get_param_store()
    assert torch.equal(torch.rand(3), expected)  # the caller's stream, as if train had not run


def test_a_seeded_run_does_not_depend_on_the_callers_rng(tmp_path, tiny_corpus):
    torch.manual_seed(1)
    _, first, _ = run(tiny_corpus, 1, tmp_path / "a")
    torch.manual_seed(2)
    _, second, _ = run(tiny_corpus, 1, tmp_path / "b")
    assert same_weights(first, second)


def test_resuming_a_checkpoint_with_a_pyro_optimizer_state_is_refused(tmp_path, tiny_corpus):
    from ppl_vae.training.checkpoint import CheckpointError, save_checkpoint

    run(tiny_corpus, 1, tmp_path)
    payload = load_checkpoint(tmp_path / CHECKPOINT)
    payload["optim"] = {"nvdm$$$decoder.weight": {"state": {}, "param_groups": []}}
    save_checkpoint(tmp_path / CHECKPOINT, payload)
    with pytest.raises(CheckpointError, match="before 0.2 .* can still be evaluated, but not"):
        run(tiny_corpus, 2, tmp_path, resume=True)


def test_kl_collapse_is_never_silent(tmp_path, caplog):
    """A sentence VAE on the embedded corpus forced to Bowman et al.'s plain objective (no
    annealing, free bits or word dropout) collapses within an epoch; the NVDM does not. The
    warning names the cure, in the log and the record."""
    from ppl_vae.data import load_documents
    from ppl_vae.data.sentences import load_sentence_data
    from ppl_vae.runs import preset, read_metrics, run_training

    sizes = {"embedding_dim": 16, "hidden_dim": 16}
    plain = {**sizes, "word_dropout": 0.0, "dropout": 0.0}
    sentences = preset("sentence-vae", objective="meanfield", anneal="constant", epochs=2,
                       model_kwargs=plain, guide_kwargs=sizes)  # fmt: skip
    run_training(sentences, tmp_path / "s", progress=False, data=load_sentence_data())
    record = read_metrics(tmp_path / "s")[-1]
    assert record["valid_kl"] < 0.5 and "KL collapse" in record["warning"]
    assert "--objective free-bits" in caplog.text
    docs = preset("nvdm", epochs=2, latent_dim=4, guide_kwargs={"hidden_sizes": [32]})
    run_training(docs, tmp_path / "d", progress=False, data=load_documents())
    assert "warning" not in read_metrics(tmp_path / "d")[-1]


def test_the_sentence_vaes_defaults_keep_z_in_use_and_say_nothing(tmp_path, caplog):
    """A small sentence VAE with the preset's objective and schedule (free bits, a sigmoid
    warm-up over the first half, word dropout and dropout) keeps z in use, and no warning is
    given. (At width 16 for 2 epochs the free KL is spent on no active unit, and the warning
    fires: it reads active units, not the KL alone.)"""
    from ppl_vae.data.sentences import load_sentence_data
    from ppl_vae.runs import preset, read_metrics, run_training

    sizes = {"embedding_dim": 64, "hidden_dim": 64}
    config = preset("sentence-vae", epochs=6, model_kwargs=sizes, guide_kwargs=sizes)
    assert (config.objective, config.anneal, config.anneal_epochs) == ("free-bits", "sigmoid", 3)
    run_training(config, tmp_path, progress=False, data=load_sentence_data())
    last = read_metrics(tmp_path)[-1]
    assert last["valid_kl"] >= 1.0 and last["valid_active_units"] >= 10
    assert last["valid_mi"] > 0.5  # of log 4 = 1.39 nats of topic
    assert "warning" not in last and "KL collapse" not in caplog.text


@pytest.mark.parametrize("anneal", ["sigmoid", "linear"])
def test_the_collapse_check_runs_where_the_warm_up_ends_and_at_the_end(tmp_path, anneal):
    """A sigmoid warm-up only nears its final beta (0.9933 of it at its nominal end), so the
    check follows the warm-up's length in epochs, not beta reaching 1: a collapsing run warns
    at epoch 1 (the end of a 1-epoch warm-up) and at its last epoch, and not in between."""
    from ppl_vae.data.sentences import load_sentence_data
    from ppl_vae.runs import preset, read_metrics, run_training

    sizes = {"embedding_dim": 16, "hidden_dim": 16}
    plain = {**sizes, "word_dropout": 0.0, "dropout": 0.0}
    config = preset("sentence-vae", objective="meanfield", anneal=anneal, anneal_epochs=1.0,
                    epochs=3, model_kwargs=plain, guide_kwargs=sizes)  # fmt: skip
    run_training(config, tmp_path, progress=False, data=load_sentence_data())
    records = read_metrics(tmp_path)
    assert all(r["valid_kl"] < 0.5 for r in records)  # collapsed throughout
    assert ["KL collapse" in r.get("warning", "") for r in records] == [True, False, True]
