"""Unit tests of the five components and the assembled model: values, shapes, gradients, padding."""

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnm_minimal import dropout as dropout_module
from cnm_minimal.attention import (
    Decoder,
    DecoderLayer,
    MultiheadAttention,
    attention_bias,
    mask_conditioned_softmax,
    set_attention_path,
)
from cnm_minimal.dropout import dropout
from cnm_minimal.gaussian_mask import (
    GaussianMaskHead,
    box_mask,
    gaussian_mask,
    predict_segment,
    proposal_slots,
    soft_mask,
)
from cnm_minimal.losses import ivc_loss, reconstruction_loss
from cnm_minimal.model import CNM, CNMConfig
from cnm_minimal.negatives import mine_samples, stack_samples
from cnm_minimal.reconstruction import (
    choose_masked_words,
    counted_slots,
    label_smoothed_nll,
    mask_words,
    sinusoidal_positions,
)

torch.manual_seed(0)


# --- Gaussian mask ----------------------------------------------------------------------------------
def test_gaussian_mask_values_on_the_grid():
    centre, width = torch.tensor([0.5, 0.0, 0.3]), torch.tensor([0.2, 0.05, 0.4])
    m = gaussian_mask(centre, width, num_slots=5, alpha=5.5)
    grid = np.linspace(0, 1, 5)
    expected = np.exp(
        -5.5 * (grid[None] - centre.numpy()[:, None]) ** 2 / np.maximum(width.numpy(), 0.1)[:, None] ** 2
    )
    np.testing.assert_allclose(m.numpy(), expected, rtol=1e-5, atol=1e-30)
    assert m[0, 2] == 1.0 and m.shape == (3, 5)
    assert torch.equal(
        gaussian_mask(centre[1:2], torch.tensor([0.01]), 5, 5.5),
        gaussian_mask(centre[1:2], torch.tensor([0.1]), 5, 5.5),
    )  # width clamped at 0.1


def test_off_grid_centre_peaks_below_one_and_slots_subsample():
    assert gaussian_mask(torch.tensor([0.1]), torch.tensor([0.2]), 5, 5.5).max() < 1.0
    assert proposal_slots(200).tolist()[:3] == [0, 4, 8] and len(proposal_slots(200)) == 50
    assert proposal_slots(200)[-1] == 199


def test_head_and_segment():
    head = GaussianMaskHead(8, max_width=0.45)
    centre, width = head(torch.randn(16, 8))
    assert ((0 < centre) & (centre < 1)).all() and ((0 < width) & (width < 0.45)).all()
    segment = predict_segment(torch.tensor([0.1, 0.5, 0.95]), torch.tensor([0.4, 0.2, 0.3]))
    np.testing.assert_allclose(segment.numpy(), [[0.0, 0.3], [0.4, 0.6], [0.8, 1.0]], atol=1e-7)


def test_gaussian_mask_gradcheck():
    centre = torch.rand(3, dtype=torch.float64, requires_grad=True)
    width = (0.15 + 0.3 * torch.rand(3, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda c, w: gaussian_mask(c, w, 7, 5.5), (centre, width))


# --- negative sample mining ---------------------------------------------------------------------------
def test_samples_positive_easy_hard():
    m = gaussian_mask(torch.tensor([0.3, 0.7]), torch.tensor([0.2, 0.3]), 10, 5.5)
    samples = mine_samples(m)
    assert list(samples) == ["positive", "hard", "easy"]
    assert torch.equal(samples["positive"] + samples["easy"], torch.ones_like(m))
    stacked = stack_samples(samples)
    assert stacked.shape == (6, 10)
    assert torch.equal(stacked[2:4], torch.ones(2, 10)) and torch.equal(stacked[4:], 1 - m)
    assert list(mine_samples(m, hard=False)) == ["positive", "easy"] and list(
        mine_samples(m, easy=False)
    ) == ["positive", "hard"]


def test_box_mask_is_high_inside_the_window_and_low_outside():
    centre, width = torch.tensor([0.5]), torch.tensor([0.4])
    m = box_mask(centre, width, 21)[0]
    assert m[10] > 0.98 and m[0] < 0.01 and m[20] < 0.01 and abs(m[6] - m[14]) < 1e-6  # symmetric about c
    assert torch.equal(soft_mask(centre, width, 21, 5.5, "box"), box_mask(centre, width, 21))
    assert torch.equal(soft_mask(centre, width, 21, 5.5), gaussian_mask(centre, width, 21, 5.5))
    with pytest.raises(ValueError, match="unknown mask shape 'boxx'"):
        soft_mask(centre, width, 21, 5.5, "boxx")


def test_losses_leave_out_the_terms_of_a_missing_negative():
    p, h, e = torch.tensor([2.0, 3.0]), torch.tensor([2.5, 2.0]), torch.tensor([4.0, 2.0])
    assert ivc_loss(p, h, None) == torch.clamp(p - h + 0.1, min=0).mean()
    assert ivc_loss(p, None, e) == torch.clamp(p - e + 0.15, min=0).mean()
    assert ivc_loss(p) == p.mean() and reconstruction_loss(p) == p.mean()


# --- mask-conditioned attention -----------------------------------------------------------------------
def test_reweighted_softmax_equals_softmax_with_log_mask_bias():
    scores = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    m = torch.rand(2, 6, dtype=torch.float64)
    m[0, 2] = 0.0
    literal = mask_conditioned_softmax(scores, m)
    as_bias = torch.softmax(scores + torch.log(m + 1e-10)[:, None, None, :], dim=-1)
    torch.testing.assert_close(literal, as_bias, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("causal", [False, True])
def test_fast_path_equals_from_scratch_path(causal):
    attention = MultiheadAttention(16, 4)
    x, memory = torch.randn(3, 7, 16), torch.randn(3, 7, 16)
    padding = torch.tensor([[False] * 7, [False] * 5 + [True] * 2, [False] * 3 + [True] * 4])
    m = torch.rand(3, 7)
    fast, _ = attention(x, memory, padding, causal=causal, key_weights=m)
    set_attention_path(attention, fast=False)
    slow, weights = attention(x, memory, padding, causal=causal, key_weights=m)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 7))
    assert (weights[1, :, :, 5:] < 1e-20).all()  # padded keys get no weight
    if causal:
        assert (weights[0].triu(1) == 0).all()


def test_plain_causal_self_attention_fast_equals_from_scratch():
    attention = MultiheadAttention(16, 4)
    x = torch.randn(3, 9, 16)
    fast, _ = attention(x, x, causal=True)  # the is_causal kernel path
    attention.fast = False
    slow, weights = attention(x, x, causal=True)
    torch.testing.assert_close(fast, slow, rtol=1e-5, atol=1e-6)
    assert (weights.triu(1) == 0).all()


def test_dropout_distribution_gradient_and_eval_identity():
    torch.manual_seed(0)
    x = torch.full((2_000_000,), 3.0, requires_grad=True)
    y = dropout(x, 0.1, training=True)
    dropped = y == 0
    assert abs(dropped.float().mean().item() - 0.1) < 1e-3  # 5 standard deviations is 1e-3
    torch.testing.assert_close(y[~dropped], torch.full_like(y[~dropped], 3.0 / 0.9))
    y.sum().backward()
    assert torch.equal(x.grad == 0, dropped)
    torch.testing.assert_close(x.grad[~dropped], torch.full_like(x.grad[~dropped], 1 / 0.9))
    assert dropout(x, 0.1, training=False) is x and dropout(x, 0.0, training=True) is x

    def same_mask_every_call(a):
        torch.manual_seed(1)
        return dropout(a, 0.3, training=True)

    assert torch.autograd.gradcheck(
        same_mask_every_call, (torch.randn(20, dtype=torch.float64, requires_grad=True),)
    )


def test_decoder_layer_drops_out_three_sublayer_outputs_and_nothing_else(monkeypatch):
    calls = []
    monkeypatch.setattr(dropout_module, "dropout", lambda x, p, training: calls.append(tuple(x.shape)) or x)
    layer = DecoderLayer(16, 4, dropout=0.1).train()
    layer(torch.randn(2, 5, 16), memory=torch.randn(2, 3, 16))
    assert calls == [(2, 5, 16)] * 3  # self-attn, cross-attn, FFN outputs (authors' code)


def test_with_a_mask_of_ones_it_is_torch_multihead_attention():
    ours = MultiheadAttention(16, 4)
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True)
    reference.in_proj_weight.data.copy_(ours.in_proj_weight.data)
    reference.in_proj_bias.data.copy_(ours.in_proj_bias.data)
    reference.out_proj.load_state_dict(ours.out_proj.state_dict())
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 9, 16)
    padding = torch.zeros(2, 9, dtype=torch.bool)
    padding[1, 6:] = True
    expected, _ = reference(x, memory, memory, key_padding_mask=padding)
    for fast in (True, False):
        ours.fast = fast
        got, _ = ours(x, memory, padding, key_weights=torch.ones(2, 9))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fast", [True, False])
def test_attention_gradcheck_float64(fast):
    attention = MultiheadAttention(8, 2, fast=fast).double()
    x = torch.randn(2, 4, 8, dtype=torch.float64, requires_grad=True)
    m = (0.1 + torch.rand(2, 4, dtype=torch.float64)).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: attention(a, a, causal=True, key_weights=b)[0], (x, m))


def test_causal_decoder_ignores_the_future_and_padding():
    decoder = Decoder(2, 16, 4, dropout=0.0).eval()
    x = torch.randn(1, 6, 16)
    changed = x.clone()
    changed[:, 4:] = torch.randn(1, 2, 16)
    same_past = decoder(x)[:, :4], decoder(changed)[:, :4]
    torch.testing.assert_close(*same_past)
    memory, other = torch.randn(1, 5, 16), torch.randn(1, 5, 16)
    other[:, :3] = memory[:, :3]
    padding = torch.tensor([[False, False, False, True, True]])
    torch.testing.assert_close(
        decoder(x, memory=memory, memory_padding=padding), decoder(x, memory=other, memory_padding=padding)
    )


# --- masked reconstruction ----------------------------------------------------------------------------
def test_positions_table():
    table = sinusoidal_positions(21, 256)
    assert table.shape == (21, 256) and not table[0].any()
    w3 = 10000 ** (-3 / 127)
    assert table[5, 3].item() == pytest.approx(math.sin(5 * w3), abs=1e-6)
    assert table[5, 128 + 3].item() == pytest.approx(math.cos(5 * w3), abs=1e-6)


def test_masked_positions_count_range_and_seed():
    lengths = torch.tensor([1, 2, 3, 7, 13])
    weights = torch.ones(5, 13)
    masked = choose_masked_words(weights, lengths, torch.Generator().manual_seed(0))
    assert masked.shape == (5, 14) and not masked[:, 0].any()
    assert masked.sum(1).tolist() == [1, 1, 1, 2, 4]
    for row, l in zip(masked, lengths.tolist()):
        assert not row[l + 1 :].any()
    again = choose_masked_words(weights, lengths, torch.Generator().manual_seed(0))
    assert torch.equal(masked, again)


def exact_inclusion(p, n):
    """P(position i is among n draws without replacement, probability proportional to p)."""
    total = np.zeros(len(p))
    for order in itertools.permutations(range(len(p)), n):
        prob, left = 1.0, 1.0
        for i in order:
            prob *= p[i] / left
            left -= p[i]
        for i in order:
            total[i] += prob
    return total


def test_masked_positions_follow_softmax_weights_without_replacement():
    weights = torch.tensor([[2.0, 1.0, 2.0, 1.0, 1.0, 2.0]])
    p = torch.softmax(weights, -1)[0].numpy()
    draws = 20000
    generator = torch.Generator().manual_seed(1)
    masked = choose_masked_words(weights.expand(draws, -1), torch.full((draws,), 6), generator)
    frequency = masked[:, 1:].float().mean(0).numpy()
    np.testing.assert_allclose(frequency, exact_inclusion(p, 2), atol=0.012)
    assert frequency[0] > 1.5 * frequency[1]  # content words are hidden more often


def test_mask_words_and_loss_mask():
    words = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    masked = torch.tensor([[False, True, False, False], [False, False, False, True]])
    out = mask_words(words, masked, torch.full((3,), -1.0))
    assert (out[0, 1] == -1).all() and (out[1, 3] == -1).all() and torch.equal(out[0, 2], words[0, 2])
    assert counted_slots(torch.tensor([3, 1]), 3).tolist() == [[True, True, True], [True, True, False]]


def test_label_smoothed_nll_is_torch_cross_entropy_with_label_smoothing():
    logits, targets = torch.randn(3, 5, 11), torch.randint(0, 11, (3, 5))
    mask = counted_slots(torch.tensor([4, 2, 0]), 5)
    ours = label_smoothed_nll(logits, targets, mask, eps=0.1)
    per_slot = F.cross_entropy(logits.transpose(1, 2), targets, label_smoothing=0.1, reduction="none")
    expected = (per_slot * mask).sum(1) / mask.sum(1)
    torch.testing.assert_close(ours, expected)


# --- losses ---------------------------------------------------------------------------------------------
def test_losses_by_hand():
    p, h, e = torch.tensor([1.0, 2.0]), torch.tensor([1.5, 1.0]), torch.tensor([3.0, 2.0])
    assert reconstruction_loss(p, h).item() == pytest.approx(1.5 + 1.25)
    # hinges: hard max(p - h + 0.1, 0) = [0, 1.1]; easy max(p - e + 0.15, 0) = [0, 0.15]
    assert ivc_loss(p, h, e, 0.1, 0.15).item() == pytest.approx(0.55 + 0.075)


# --- the assembled model ----------------------------------------------------------------------------------
SMALL = CNMConfig(
    frame_dim=12, word_dim=6, vocab_size=9, hidden=16, heads=2, video_layers=1, query_layers=2, dropout=0.0
)


def toy_batch(lengths=(3, 5)):
    b, longest = len(lengths), max(lengths)
    ids = torch.zeros(b, longest, dtype=torch.long)
    for i, l in enumerate(lengths):
        ids[i, :l] = torch.randint(1, 9, (l,))
    words = torch.zeros(b, longest + 1, 6)
    words[:, 1:] = torch.randn(9, 6)[ids] * (ids > 0)[..., None]
    return torch.randn(b, 16, 12), words, ids, torch.tensor(lengths), torch.ones(b, longest)


def test_model_shapes_and_gradients_reach_every_parameter():
    model = CNM(SMALL)
    frames, words, ids, lengths, weights = toy_batch()
    out = model(frames, words, ids, lengths, weights, rng=torch.Generator().manual_seed(0))
    assert out.mask.shape == (2, 4) and out.logits_positive.shape == (2, 5, 9)
    (out.rec_loss + out.ivc_loss).backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


def test_a_sentence_reconstructs_the_same_alone_or_next_to_a_longer_one():
    model = CNM(SMALL).eval()
    frames, words, ids, lengths, weights = toy_batch((3, 5))
    masked = torch.zeros(2, 6, dtype=torch.bool)
    masked[:, 2] = True
    together = model(frames, words, ids, lengths, weights, masked_words=masked)
    alone = model(
        frames[:1], words[:1, :4], ids[:1, :3], lengths[:1], weights[:1, :3], masked_words=masked[:1, :4]
    )
    torch.testing.assert_close(
        together.logits_positive[0, :3], alone.logits_positive[0], rtol=1e-5, atol=1e-5
    )
    torch.testing.assert_close(together.centre[:1], alone.centre)
    assert together.counted[0].tolist() == [True, True, True, True, False]  # 3 words + the end token
    assert alone.counted[0].tolist() == [True, True, True]  # the longest: no end token


def test_attention_bias_adds_causal_padding_and_log_weights():
    padding = torch.tensor([[False, False, True]])
    weights = torch.tensor([[1.0, 0.5, 1.0]])
    bias = attention_bias(3, 3, padding, causal=True, key_weights=weights)[0, 0]
    assert bias[0, 1] == float("-inf") and bias[2, 2] == -1e30  # the future; a padded key
    assert bias[1, 0] == 0.0 and torch.isclose(bias[1, 1], torch.log(torch.tensor(0.5 + 1e-10)))
    assert attention_bias(1, 3, padding)[0, 0, 0, 2] == -1e30  # a padded key
