import pytest
import torch

from ppl_vae.models.lstm_decoder import LSTMDecoder

V, PAD = 12, 0


@pytest.mark.parametrize(
    "embedding_dim, hidden_dim", [(6, 6), (6, 7)], ids=["same-width", "projected"]
)
def test_tied_output_layer_is_the_input_embedding_matrix(embedding_dim, hidden_dim):
    torch.manual_seed(0)
    decoder = LSTMDecoder(V, embedding_dim, hidden_dim, tie_embeddings=True)
    # one (V, E) matrix, stored once
    matrices = [k for k, v in decoder.state_dict().items() if v.shape == (V, embedding_dim)]
    assert matrices == ["embedding.weight"]
    inputs = torch.tensor([[1, 4, 5]])
    logits, _ = decoder(inputs)
    out, _ = decoder.lstm(decoder.embedding(inputs))
    if hidden_dim != embedding_dim:
        out = decoder.projection(out)
    expected = out @ decoder.embedding.weight.T + decoder.output_bias
    assert torch.allclose(logits, expected, atol=1e-6)
    # a word that is never an input still gets a gradient, through the output layer
    logits.log_softmax(-1)[0, :, 9].sum().backward()
    assert decoder.embedding.weight.grad[9].abs().sum() > 0


def test_tied_embeddings_start_small_with_a_zero_padding_row():
    decoder = LSTMDecoder(V, 6, 6, pad_index=PAD, tie_embeddings=True)
    weight = decoder.embedding.weight
    assert weight.abs().max() <= 0.1 and bool((weight[PAD] == 0).all())


def test_untied_decoder_has_its_own_output_layer():
    decoder = LSTMDecoder(V, 6, 7)
    shapes = {k: tuple(v.shape) for k, v in decoder.state_dict().items()}
    assert shapes["embedding.weight"] == (V, 6) and shapes["output.weight"] == (V, 7)
