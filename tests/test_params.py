"""params.yaml validation: every rejection names the key, and nothing runs (CLI, Snakemake, DVC)."""
from __future__ import annotations

import copy

import pytest
import yaml

from allrepro.params import ParamsError, load, model_spec, models_for, validate
from conftest import ROOT, make_project, project_env, run, tiny_params

BASE = yaml.safe_load((ROOT / "params.yaml").read_text())

BAD = {  # name: (mutation, the key the error must name)
    "unknown key": (lambda c: c["segment"].update(hsv_lowr=[0, 0, 0]), "segment.hsv_lowr"),
    "wrong type": (lambda c: c["models"]["quick_cnn"].update(batch_size="32"), "models.quick_cnn.batch_size"),
    "ratios": (lambda c: c["experiments"]["idrees"]["split"]["ratios"].update(test=0.2),
               "experiments.idrees.split.ratios"),
    "backbone": (lambda c: c["models"]["quick_cnn"].update(backbone="resnet5000"), "models.quick_cnn.backbone"),
    "experiment": (lambda c: c.update(experiment="nope"), "experiment"),
    "dataset": (lambda c: c["experiments"]["patel"].update(dataset="nope"), "experiments.patel.dataset"),
    "https without sha256": (lambda c: c["datasets"]["cnmc"].update(source="https://example.org/c.zip"),
                             "datasets.cnmc.sha256"),
}


def mutated(name: str) -> dict:
    cfg = copy.deepcopy(BASE)
    BAD[name][0](cfg)
    return cfg


def test_shipped_params_are_valid():
    validate(BASE)
    assert models_for(BASE, "idrees") == ["quick_cnn"]
    assert model_spec(BASE, "quick_cnn")["weights"] is None  # the quick profile trains from scratch


def test_paper_profile_uses_each_experiments_models():
    cfg = copy.deepcopy(BASE)
    cfg["profile"] = "paper"
    assert models_for(cfg, "idrees") == cfg["experiments"]["idrees"]["models"]
    assert model_spec(cfg, "quick_cnn")["weights"] == "imagenet"


@pytest.mark.parametrize("name", sorted(BAD))
def test_rejections_name_the_key(name):
    with pytest.raises(ParamsError) as err:
        validate(mutated(name))
    assert f"'{BAD[name][1]}'" in str(err.value)


def test_override_parses_yaml_and_is_validated(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert load(path, ["profiles.paper.weights=null", "profile=paper"])["profiles"]["paper"]["weights"] is None
    with pytest.raises(ParamsError, match="'profile'"):
        load(path, ["profile=fast"])


@pytest.mark.parametrize("name", sorted(BAD))
def test_cli_exits_nonzero_naming_the_key(tmp_path, name):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(mutated(name)))
    proc = run(["allrepro", "validate"], tmp_path, check=False)
    assert proc.returncode == 2
    assert BAD[name][1] in proc.stderr


@pytest.mark.dag
def test_snakemake_and_dvc_refuse_before_any_job(tmp_path, tiny_zip):
    project = make_project(tmp_path / "p", tiny_params(), tiny_zip)
    env = project_env(tiny_zip)
    for name in ("unknown key", "ratios"):
        cfg = tiny_params()
        BAD[name][0](cfg)
        (project / "params.yaml").write_text(yaml.safe_dump(cfg))
        sm = run(["snakemake", "--cores", "1"], project, env, check=False)
        assert sm.returncode != 0 and BAD[name][1] in sm.stdout + sm.stderr
        dvc = run(["dvc", "repro"], project, env, check=False)
        assert dvc.returncode != 0 and BAD[name][1] in dvc.stdout + dvc.stderr
        assert not (project / "data" / "raw").exists(), "a stage ran despite invalid params"


def test_training_threads_auto_leave_cores_beside_a_gpu(monkeypatch):
    """train.threads: auto = every core without a GPU, 4 beside one (the other cores run CPU stages meanwhile)."""
    from allrepro import pipeline

    cfg = load(ROOT / "params.yaml")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert pipeline.threads(cfg, "train", 16) == 16 and pipeline.threads(cfg, "evaluate", 16) == 1
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert pipeline.threads(cfg, "train", 16) == 4 and pipeline.threads(cfg, "train", 2) == 2
    cfg["train"]["threads"] = 6
    assert pipeline.threads(cfg, "train", 16) == 6 and pipeline.threads(cfg, "segment", 16) == 16


@pytest.mark.parametrize("setting", ["train.seed=7", "models.quick_cnn.phases.0.epochs=3", "profile=paper"])
def test_dvc_set_param_changes_one_line_of_params_yaml_and_keeps_every_comment(tmp_path, setting):
    """`dvc exp run -S` (DVC's apply_overrides, the function it calls) rewrites params.yaml in ruamel's block
    style: the shipped file is already in that style, so only the line of the value set changes."""
    from dvc.utils.hydra import apply_overrides

    path = tmp_path / "params.yaml"
    before = (ROOT / "params.yaml").read_text()
    path.write_text(before)
    apply_overrides(path, [setting])
    changed = [(a, b) for a, b in zip(before.splitlines(), path.read_text().splitlines()) if a != b]
    assert len(before.splitlines()) == len(path.read_text().splitlines()) and len(changed) == 1, changed
    key, value = setting.split("=")
    assert changed[0][1].split("#")[0].strip().endswith(f"{key.split('.')[-1]}: {value}"), changed
