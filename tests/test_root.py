"""The data root (cnm_minimal.data.root): CNM_DATA, else the repository's data/, else ./data; word vectors
from CNM_WORD_VECTORS, else GloVe 6B in the data root; records show paths relative to them."""

from pathlib import Path

from cnm_minimal.data.root import data_root, describe, repository_root, word_vectors_path

ROOT = Path(__file__).resolve().parents[1]


def test_the_data_root_is_the_variable_else_the_repository_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CNM_DATA", raising=False)
    monkeypatch.chdir(ROOT / "book")  # where the notebooks run
    assert repository_root() == ROOT and data_root() == ROOT / "data"
    monkeypatch.chdir(tmp_path)  # outside any repository
    assert repository_root() is None and data_root() == Path("data")
    monkeypatch.setenv("CNM_DATA", str(tmp_path / "elsewhere"))
    assert data_root() == tmp_path / "elsewhere"


def test_word_vectors_default_to_glove_in_the_data_root(tmp_path, monkeypatch):
    monkeypatch.delenv("CNM_WORD_VECTORS", raising=False)
    assert word_vectors_path(tmp_path) == tmp_path / "glove" / "glove.6B.300d.txt"
    monkeypatch.setenv("CNM_WORD_VECTORS", str(tmp_path / "mine.npz"))
    assert word_vectors_path(tmp_path) == tmp_path / "mine.npz"


def test_paths_are_described_without_the_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("CNM_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CNM_WORD_VECTORS", str(tmp_path / "v.npz"))
    assert (
        describe(tmp_path / "data" / "charades-sta" / "cnm_train.json")
        == "$CNM_DATA/charades-sta/cnm_train.json"
    )
    assert describe(tmp_path / "v.npz") == "$CNM_WORD_VECTORS"
    assert describe(tmp_path / "other" / "f.hdf5") == "f.hdf5" and describe("runs/x") == "runs/x"
