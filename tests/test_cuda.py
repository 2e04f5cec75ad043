"""The CUDA path (``pytest -m cuda`` on a GPU machine; skipped without CUDA): training and
evaluation on the GPU agree with the CPU, and torchrun launches on CUDA with NCCL."""

import json
import os
import subprocess
import sys

import pytest
import torch

from ppl_vae.data import load_documents
from ppl_vae.data.sentences import load_sentence_data
from ppl_vae.evaluation import evaluate
from ppl_vae.runs import preset, run_training
from ppl_vae.runs.registry import build

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def corpus(name: str):
    return load_sentence_data() if name == "sentence-vae" else load_documents("synthetic")


@pytest.mark.parametrize("name", ["nvdm", "sentence-vae"])
def test_evaluation_on_the_gpu_equals_the_cpu(name):
    data = corpus(name)
    torch.manual_seed(0)
    model, guide = build(preset(name), len(data.vocab))
    cpu = evaluate(model, guide, data.test, num_samples=4, seed=3)
    gpu = evaluate(model.cuda(), guide.cuda(), data.test, num_samples=4, seed=3, device="cuda")
    # different generators draw different normals: the figures agree up to sampling noise
    assert gpu.ppl_doc_elbo == pytest.approx(cpu.ppl_doc_elbo, rel=0.02)
    assert gpu.kl == pytest.approx(cpu.kl, rel=0.05, abs=0.05)


@pytest.mark.parametrize("name", ["nvdm", "sentence-vae"])
def test_a_run_trains_and_resumes_on_the_gpu(tmp_path, name):
    config, data = preset(name, epochs=1, device="cuda"), corpus(name)
    assert run_training(config, tmp_path, progress=False, data=data).status == "completed"
    result = run_training(config, tmp_path, resume=True, progress=False, data=data,
                          overrides={"epochs": 2})  # fmt: skip
    assert result.state.epoch == 2


def test_torchrun_launches_on_cuda_with_nccl(tmp_path):
    procs = min(torch.cuda.device_count(), 2)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={procs}", "-m", "ppl_vae", "train", "nvdm", "--epochs", "2",
           "--out", str(tmp_path), "--device", "cuda", "--no-progress"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    assert [r["epoch"] for r in records] == [1, 2]
