"""Fidelity: our CNM computes what the authors' code computes (tests/fixtures/golden_cnm_forward.npz,
described in tests/fixtures/golden_cnm_forward.md: one forward pass of their unmodified code with random
weights)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cnm_minimal.attention import set_attention_path
from cnm_minimal.model import CNM, CNMConfig
from cnm_minimal.official import from_official_state_dict, official_name_to_ours

SPEC = Path(__file__).resolve().parent / "fixtures"
GOLDEN = SPEC / "golden_cnm_forward.npz"
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def golden():
    with np.load(GOLDEN, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}


def golden_model(golden) -> CNM:
    config = json.loads((SPEC / "golden_cnm_forward.json").read_text())["config"]
    model = CNM(
        CNMConfig(
            frame_dim=config["frames_input_size"],
            word_dim=config["words_input_size"],
            vocab_size=config["vocab_size"],
            hidden=config["hidden_size"],
            heads=config["DualTransformer"]["num_heads"],
            video_layers=config["DualTransformer"]["num_decoder_layers1"],
            query_layers=config["DualTransformer"]["num_decoder_layers2"],
            dropout=config["dropout"],
            alpha=config["alpha"],
            max_width=config["max_width"],
        )
    )
    from_official_state_dict(
        model,
        {k.removeprefix("param/"): torch.from_numpy(v) for k, v in golden.items() if k.startswith("param/")},
    )
    return model


def inputs(golden):
    return {
        k.removeprefix("input/"): torch.from_numpy(v) for k, v in golden.items() if k.startswith("input/")
    }


PAIRS = {
    "train/center": "centre",
    "train/width": "width",
    "train/gauss_weight": "mask",
    "train/words_logit": "logits_positive",
    "train/hard_neg_words_logit": "logits_hard",
    "train/easy_neg_words_logit": "logits_easy",
    "train/words_mask": "counted",
    "train/nll_positive": "nll_positive",
    "train/nll_hard": "nll_hard",
    "train/nll_easy": "nll_easy",
    "train/rec_loss": "rec_loss",
    "train/ivc_loss": "ivc_loss",
}


def golden_deviations(golden, fast: bool) -> dict[str, float]:
    """The largest absolute difference per golden array (train mode with the given masked words; eval)."""
    model, x = golden_model(golden), inputs(golden)
    set_attention_path(model, fast)
    model.train()
    out = model(
        x["frames_feat"],
        x["words_feat"],
        x["words_id"],
        x["words_len"],
        torch.zeros_like(x["weights"]),
        masked_words=x["masked_positions"].bool(),
    )
    deviations = {
        key: float(
            np.abs(getattr(out, name).detach().double().numpy() - golden[key].astype(np.float64)).max()
        )
        for key, name in PAIRS.items()
    }
    model.eval()
    with torch.no_grad():
        clips, words = model.embed(x["frames_feat"], x["words_feat"])
        centre, width = model.generate_mask(clips, words, x["words_len"])
    deviations["eval/center"] = float(np.abs(centre.numpy() - golden["eval/center"]).max())
    deviations["eval/width"] = float(np.abs(width.numpy() - golden["eval/width"]).max())
    return deviations


@pytest.mark.parametrize("fast", [True, False], ids=["fast path", "from-scratch path"])
def test_every_golden_array_matches(golden, fast):
    deviations = golden_deviations(golden, fast)
    assert set(deviations) == set(PAIRS) | {"eval/center", "eval/width"}
    bad = {k: v for k, v in deviations.items() if not v <= TOLERANCE}
    assert not bad, f"arrays off by more than {TOLERANCE}: {bad}"


def test_inference_segment_is_centre_plus_minus_half_width(golden):
    model, x = golden_model(golden), inputs(golden)
    model.eval()
    segments = model.predict(x["frames_feat"], x["words_feat"], x["words_len"]).segment.numpy()
    c, w = golden["eval/center"], golden["eval/width"]
    np.testing.assert_allclose(
        segments, np.stack([np.maximum(c - w / 2, 0), np.minimum(c + w / 2, 1)], 1), atol=1e-6
    )


def official_table():
    rows = (SPEC / "official_cnm_state_dict_charades.tsv").read_text().splitlines()[1:]
    return {key: tuple(int(d) for d in shape.split("x")) for key, shape, _ in (r.split("\t") for r in rows)}


def test_the_authors_charades_checkpoint_keys_fit_our_model():
    table = official_table()
    model = CNM(CNMConfig())
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert {official_name_to_ours(k): s for k, s in table.items()} == ours
    assert (
        sum(p.numel() for p in model.parameters())
        == sum(int(np.prod(s)) for s in table.values())
        == 5_371_058
    )
    from_official_state_dict(model, {k: torch.randn(s) for k, s in table.items()})


def test_a_mismatched_state_dict_is_refused_with_every_problem_listed():
    model = CNM(
        CNMConfig(frame_dim=8, word_dim=4, vocab_size=5, hidden=8, heads=2, video_layers=1, query_layers=1)
    )
    official = {k: v.clone() for k, v in model.state_dict().items()}
    theirs = {
        ("fc_rec." + k.removeprefix("word_head.")) if k.startswith("word_head.") else k: v
        for k, v in official.items()
    }
    theirs["fc_rec.weight"] = torch.zeros(6, 8)
    theirs["extra.weight"] = torch.zeros(1)
    del theirs["frame_proj.bias"]
    with pytest.raises(ValueError) as error:
        from_official_state_dict(model, theirs)
    message = str(error.value)
    assert "missing frame_proj.bias" in message and "unexpected extra.weight" in message
    assert "shape fc_rec.weight: theirs (6, 8), ours (5, 8)" in message
