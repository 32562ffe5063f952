"""The authors' configs and checkpoints: mapping, import (weights_only), refusal with every problem listed."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cnm_minimal import official
from cnm_minimal.checkpoints import model_from_checkpoint

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "fixtures"
TABLE = SPEC / "official_cnm_state_dict_charades.tsv"


def config(name: str) -> dict:
    return json.loads((ROOT / "configs" / name).read_text())


def test_configs_mirror_the_authors_values():
    charades = official.train_config_from_official(config("charades_i3d.json"))
    m = charades.model
    assert (charades.num_clips, m.hidden, m.heads, m.video_layers, m.query_layers) == (200, 256, 4, 3, 3)
    assert (
        charades.epochs,
        charades.batch_size,
        charades.lr,
        charades.warmup_updates,
        charades.warmup_init_lr,
    ) == (50, 128, 4e-4, 400, 1e-7)
    assert (m.alpha, m.max_width, charades.kept_words, m.dropout) == (5.5, 0.45, 1111, 0.1)
    model = official.model_config_from_official(config("charades_i3d.json"))
    assert (model.frame_dim, model.word_dim, model.vocab_size) == (1024, 300, 1112)
    for name, frame_dim, epochs in (("activitynet_clip.json", 512, 20), ("activitynet_c3d.json", 500, 30)):
        train = official.train_config_from_official(config(name))
        assert (official.model_config_from_official(config(name)).frame_dim, train.epochs) == (
            frame_dim,
            epochs,
        )
        assert (train.model.alpha, train.model.max_width, train.kept_words) == (5.0, 1.0, 8000)
    assert official.train_config_from_official(config("charades_i3d.json"), epochs=3).epochs == 3
    with pytest.raises(ValueError, match="'dataset'"):
        official.train_config_from_official({"model": {}})


def official_checkpoint(path: Path, parameters: dict, cfg: dict) -> Path:
    torch.save({"num_updates": 4150, "config": cfg, "model_parameters": parameters}, path)
    return path


def test_import_a_checkpoint_built_from_the_official_table(tmp_path):
    rows = [r.split("\t") for r in TABLE.read_text().splitlines()[1:]]
    generator = torch.Generator().manual_seed(0)
    theirs = {
        key: torch.randn(tuple(int(d) for d in shape.split("x")), generator=generator)
        for key, shape, _ in rows
    }
    source = official_checkpoint(tmp_path / "model-best.pt", theirs, config("charades_i3d.json"))
    converted = official.import_official(source, tmp_path / "ours.pt")
    assert converted["imported_from"] == {"file": "model-best.pt", "num_updates": 4150}
    model, vocabulary, _, state = model_from_checkpoint(tmp_path / "ours.pt")  # weights_only inside
    assert (
        state["train_config"]["num_clips"] == 200 and sum(p.numel() for p in model.parameters()) == 5_371_058
    )
    assert vocabulary.words == () and state["model_config"]["vocab_size"] == 1112
    torch.testing.assert_close(model.frame_proj.weight, theirs["frame_fc.weight"])
    torch.testing.assert_close(
        model.video_decoder.layers[2].ffn_in.weight, theirs["trans.decoder1.decoder_layers.2.fc1.weight"]
    )


def test_a_wrong_checkpoint_is_refused_with_every_problem_listed(tmp_path):
    rows = [r.split("\t") for r in TABLE.read_text().splitlines()[1:]]
    theirs = {key: torch.zeros(tuple(int(d) for d in shape.split("x"))) for key, shape, _ in rows}
    del theirs["frame_fc.bias"]
    theirs["fc_rec.weight"] = torch.zeros(8001, 256)
    source = official_checkpoint(tmp_path / "bad.pt", theirs, config("charades_i3d.json"))
    with pytest.raises(ValueError) as error:
        official.import_official(source, tmp_path / "ours.pt")
    message = str(error.value)
    assert (
        "bad.pt" in message
        and "missing frame_proj.bias" in message
        and "fc_rec.weight: theirs (8001, 256)" in message
    )
    assert not (tmp_path / "ours.pt").exists()
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an official CNM checkpoint"):
        official.import_official(tmp_path / "other.pt", tmp_path / "ours.pt")


def test_imported_golden_parameters_reproduce_the_golden_forward(tmp_path):
    golden_file = SPEC / "golden_cnm_forward.npz"
    with np.load(golden_file, allow_pickle=False) as archive:
        golden = {k: archive[k] for k in archive.files}
    flat = json.loads((SPEC / "golden_cnm_forward.json").read_text())["config"]
    cfg = config("charades_i3d.json")
    cfg["dataset"].update(
        frame_dim=flat["frames_input_size"],
        word_dim=flat["words_input_size"],
        vocab_size=flat["vocab_size"] - 1,
        max_num_words=flat["max_num_words"],
    )
    cfg["model"]["config"].update(
        {k: flat[k] for k in ("hidden_size", "alpha", "max_width", "dropout", "DualTransformer")}
    )
    parameters = {
        k.removeprefix("param/"): torch.from_numpy(v) for k, v in golden.items() if k.startswith("param/")
    }
    official.import_official(
        official_checkpoint(tmp_path / "golden.pt", parameters, cfg), tmp_path / "ours.pt"
    )
    model = model_from_checkpoint(tmp_path / "ours.pt").model
    x = {k.removeprefix("input/"): torch.from_numpy(v) for k, v in golden.items() if k.startswith("input/")}
    model.eval()
    with torch.no_grad():
        centre, width = model.generate_mask(*model.embed(x["frames_feat"], x["words_feat"]), x["words_len"])
    np.testing.assert_allclose(centre.numpy(), golden["eval/center"], atol=1e-5)
    np.testing.assert_allclose(width.numpy(), golden["eval/width"], atol=1e-5)
    model.train()
    out = model(
        x["frames_feat"],
        x["words_feat"],
        x["words_id"],
        x["words_len"],
        torch.zeros_like(x["weights"]),
        masked_words=x["masked_positions"].bool(),
    )
    np.testing.assert_allclose(out.ivc_loss.detach().numpy(), golden["train/ivc_loss"], atol=1e-5)
    np.testing.assert_allclose(out.logits_positive.detach().numpy(), golden["train/words_logit"], atol=1e-5)
