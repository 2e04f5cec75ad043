"""Importance sampling of log Z_N from the mixture of the documents' posteriors."""

import numpy as np
import torch

from ppl_vae.infer.importance_partition import posterior_mixture_log_partition
from ppl_vae.models import ReplicatedSoftmax


def test_the_posterior_mixture_estimate_matches_exact_log_z_for_long_documents():
    torch.manual_seed(0)
    model = ReplicatedSoftmax(6, 8, gibbs_steps=100)
    with torch.no_grad():
        model.weight.normal_(0.0, 1.0)
        model.visible_bias.normal_(0.0, 1.0)
    docs = model.generate(torch.randint(3, 30, (400,)).float())
    lengths = [1, 3, 10, 30, 100]
    exact = model.exact_log_partition(lengths)
    est, ess = posterior_mixture_log_partition(model, docs, lengths, num_samples=20_000)
    exact = np.array([exact[n] for n in lengths])
    # long documents: P_N(z) concentrates where the documents' posteriors are
    np.testing.assert_allclose(est[2:], exact[2:], atol=0.05)
    assert (ess[2:] > 50).all()
    # a single word: P_1(z) is broad and the posteriors cover it poorly; still an
    # under-estimate, as it is on average (this is where AIS is the better of the two)
    assert est[0] < exact[0] + 0.01
