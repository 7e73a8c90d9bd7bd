"""The whole DAG on a tiny generated dataset, run by the real Snakemake and the real DVC:
complete runs, no-op reruns, a report-only change, and the two entry points kept in step."""
from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, run

pytestmark = [pytest.mark.dag, pytest.mark.xdist_group("tiny")]  # one worker: the tests share one project, in order


def snakemake_jobs(output: str) -> list[str]:
    return re.findall(r"^(?:local)?rule (\w+):", output, flags=re.M)


def dvc_stages(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


def test_dvc_yaml_is_up_to_date():
    run(["allrepro", "dvc-yaml", "--check"], ROOT)


def set_param(project: Path, path: str, value) -> None:
    cfg = yaml.safe_load((project / "params.yaml").read_text())
    node = cfg
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    (project / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_snakemake_runs_the_whole_dag(tiny):
    project, env = tiny  # the run itself: conftest.tiny_built (SNAKEMAKE, its jobs traced), once for both workers
    jobs = snakemake_jobs((project.parent / "run.log").read_text())
    assert sorted(set(jobs)) == ["acquire", "agreement", "all", "audit", "cache", "duplicates", "ensemble", "evaluate",
                                 "export", "report", "scorecard", "segment", "split", "spread", "train"]
    assert jobs.count("train") == 3 and jobs.count("evaluate") == 3, jobs
    runtime = json.loads((project / "models/idrees/quick_cnn/labels.json").read_text())["runtime"]
    assert runtime["threads"] == 2  # train.threads auto, no GPU: every core Snakemake has (--cores 2), recorded
    for exp in ("idrees", "patel"):
        html = (project / f"reports/{exp}/report.html").read_text()
        assert "<html" in html[:2000].lower()
        # the audit chapter, with its verdicts and the colour baselines beside the CNN
        assert "Audit: how far" in html and "colour logistic regression (baseline)" in html, exp
        assert "test images have a near-duplicate" in html or "No test image has a near-duplicate" in html
        # it leads with its answer, and reads as a document, not a notebook
        assert html.index(">Summary<") < html.index("Verdicts") < html.index(">Details<") < html.index("Audit: how far")
        checked = (project / f"reports/{exp}/audit/paper_check.csv").read_text().count("\n") > 1
        assert ("paper / ours [95% interval]" in html) == checked, exp  # the paper's table only where it has numbers
        body = html[html.index("<body"):]  # nbconvert's stylesheet mentions prompts; the page must show none
        for leftover in ("Out[", ">NaN<", ">None<", "has no ensemble", "Not measured under this profile", "data/raw//"):
            assert leftover not in body, (exp, leftover)
    # what `make run` ends with: the headline numbers and where to look
    results = run(["allrepro", "results"], project, env).stdout
    assert "idrees quick_cnn: test accuracy" in results and "patel ensemble: test accuracy" in results, results
    assert "idrees report: reports/idrees/report.html\n" in results and "not made yet" not in results, results
    assert "scorecard (every selected paper): reports/index.html\n" in results, results
    # the scorecard: a row per headline claim of each selected experiment, with a verdict, and links that resolve
    card = pd.read_csv(project / "reports/scorecard.csv")
    assert set(card["experiment"]) == {"idrees", "patel"} and card["verdict"].str.len().min() > 20
    page = (project / "reports/index.html").read_text()
    for link in re.findall(r"href='([^']+)'", page):
        assert (project / "reports" / link).resolve().exists(), link


def test_every_job_opens_only_what_its_stage_record_declares(tiny):
    """Declared == used: every job of the whole run above, traced (allrepro/trace.py: the files it opened, listed
    and moved into place through Python), wrote exactly its record's outputs and read nothing that is not among
    its record's inputs and outputs (or inside a declared folder, or a folder above a declared file)."""
    from allrepro import params as P
    from allrepro import pipeline

    project, env = tiny
    cwd = Path.cwd()
    try:
        os.chdir(project)
        cfg = P.load("params.yaml")
        jobs = {j["name"]: j for j in pipeline.jobs(cfg, P.selected_experiments(cfg))}
        traces = {f.stem: json.loads(f.read_text()) for f in (project.parent / "trace").glob("*.json")}
        assert set(traces) == set(jobs), sorted(set(traces) ^ set(jobs))

        def inside(path, declared):
            return any(path == d or path.startswith(d + "/") for d in declared)

        problems = []
        for name, job in jobs.items():
            ins = [d for d in job["deps"] if not d.startswith(("src/", "workflow/"))]
            reads, writes = traces[name]["reads"], traces[name]["writes"]
            problems += [f"{name} writes undeclared {w}" for w in writes if not inside(w, job["outs"])]
            problems += [f"{name} never writes declared {o}" for o in job["outs"] if not inside(o, writes)]
            problems += [f"{name} reads undeclared {r}" for r in reads if Path(r).exists()
                         and not inside(r, ins + job["outs"]) and not any(d.startswith(r + "/") for d in ins + job["outs"])]
    finally:
        os.chdir(cwd)
    assert not problems, "\n".join(problems)


def test_snakemake_rerun_does_nothing(tiny):
    # what a rerun does, not how fast: a timing limit here failed at random on a cold machine
    project, env = tiny
    out = run(SNAKEMAKE, project, env)
    assert "Nothing to be done" in out.stdout + out.stderr
    assert not snakemake_jobs(out.stdout + out.stderr)


def test_snakemake_report_holds_the_key_figures_with_captions(tiny):
    """`snakemake --report`: every model's confusion and ROC figures, the ensembles', each experiment's report."""
    project, env = tiny
    run(["snakemake", "--report", "snakemake-report.zip", *SNAKEMAKE[1:]], project, env)
    import zipfile

    with zipfile.ZipFile(project / "snakemake-report.zip") as z:
        files = [n for n in z.namelist() if "/data/raw/" in n]  # the embedded results, stored under hashed names
        text = "".join(z.read(n).decode("utf-8", "ignore") for n in z.namelist()
                       if n not in files and n.endswith((".js", ".html", ".json")))
    evaluations, ensembles, experiments = 3, 1, 2  # idrees 1 + patel 2; patel
    count = {name: sum(f.endswith("/" + name) for f in files)
             for name in ("confusion.png", "roc.png", "report.html", "index.html")}
    assert count == {"confusion.png": evaluations + ensembles, "roc.png": evaluations + ensembles,
                     "report.html": experiments, "index.html": 1}, count
    assert "Test-set confusion matrix of" in text and "weighted-threshold ensemble" in text  # the captions
    assert "The scorecard across the papers" in text


def test_plain_snakemake_uses_the_default_profile_and_starts_the_longest_training_first(tiny):
    """`snakemake -n` with no option: profiles/default (beside the Snakefile) gives the cores and the gpu limit. Under
    the paper profile each training job carries its expected GPU time as its priority, so the scheduler starts
    EfficientNet-B3 and DenseNet-201 before the short jobs (reports/benchmarks.md: 399 s and 307 s on an H100)."""
    project, env = tiny
    out = run(["snakemake", "-n", "--forceall", "--config", "experiment=all", "profile=paper"], project, env)
    text = out.stdout + out.stderr
    assert "Using workflow specific profile profiles/default" in text
    trains = dict(re.findall(r"^rule train:.*?model=(\w+).*?priority: (\d+)", text, flags=re.M | re.S))
    ranked = sorted(trains, key=lambda m: -int(trains[m]))
    assert ranked[:2] == ["idrees_efficientnetb3", "patel_densenet201"], trains
    assert int(trains["idrees_efficientnetb3"]) == 399 and int(trains["patel_resnet50"]) == 32, trains


def test_snakemake_lint_and_snakefmt_are_clean():
    lint = run(["snakemake", "--lint"], ROOT)
    assert "Congratulations, your workflow is in a good condition" in lint.stdout + lint.stderr
    run(["snakefmt", "--check", "Snakefile", "workflow/"], ROOT)


def test_snakemake_unlock_needs_no_cores(tiny):
    # what Snakemake tells a user to run after a killed run; it failed while a rule asked for workflow.cores
    project, env = tiny
    out = run(["snakemake", "--unlock"], project, env)
    assert "Unlocked working directory" in out.stdout + out.stderr


def test_snakemake_report_param_reruns_only_the_report(tiny):
    project, env = tiny
    set_param(project, "report.title", "changed by test (snakemake)")
    out = run(SNAKEMAKE, project, env)
    assert sorted(snakemake_jobs(out.stdout + out.stderr)) == ["all", "report", "report"]
    assert "changed by test (snakemake)" in (project / "reports/idrees/report.html").read_text()


def test_snakemake_ensemble_param_reruns_ensemble_and_report_never_training(tiny):
    """What Snakemake would run (DVC runs this change for real in the takeover test below; the report change above
    ran for real under Snakemake)."""
    project, env = tiny
    original = (project / "params.yaml").read_text()
    set_param(project, "experiments.patel.ensemble.thresholds", [0.6, 0.9])
    try:
        out = run(["snakemake", "-n", *SNAKEMAKE[1:]], project, env)
    finally:
        (project / "params.yaml").write_text(original)
    assert sorted(snakemake_jobs(out.stdout + out.stderr)) == ["all", "audit", "ensemble", "export", "report", "scorecard",
                                                                "spread"]


def test_dvc_exp_run_after_snakemake_reruns_training_onward_only_and_deletes_nothing(tiny):
    """The two engines on one workspace: after Snakemake's runs (its onsuccess recorded them in dvc.lock),
    `dvc exp run -S train.seed=7` (idrees' report) runs training and what follows it, never a data stage,
    and every data file keeps its bytes; `dvc exp show` has both seeds; `snakemake --touch` then records DVC's work, after which Snakemake has
    nothing to do. The workspace is put back to seed 42 afterwards (git and DVC checkout)."""
    project, env = tiny
    assert "up to date" in run(["dvc", "status"], project, env).stdout  # Snakemake's runs above, recorded
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-qm", "Snakemake's run"], project, env)  # an experiment starts from a commit
    try:
        data = {str(p): tree_digest(p) for p in sorted((project / "data").rglob("*")) if p.is_file()}
        # idrees' chain only, to keep the test short (the real-data run in the README does the whole selection)
        out = run(["dvc", "exp", "run", "-S", "train.seed=7", "report_idrees"], project, env)
        ran = dvc_stages(out.stdout)  # (the bundle, export, also follows training: the takeover test reruns one)
        assert sorted(ran) == ["audit_idrees", "evaluate_idrees_quick_cnn", "report_idrees", "spread_idrees",
                               "train_idrees_quick_cnn"], out.stdout
        assert "No file hash info found" not in out.stdout + out.stderr
        assert {str(p): tree_digest(p) for p in sorted((project / "data").rglob("*")) if p.is_file()} == data
        table = json.loads(run(["dvc", "exp", "show", "--json"], project, env).stdout)

        def accuracy(seed):
            for rev in find(table, lambda d: (((d.get("params") or {}).get("params.yaml") or {}).get("data") or {})
                            .get("train", {}).get("seed") == seed and d.get("metrics")):
                metric = rev["metrics"].get("reports/idrees/quick_cnn/headline.json", {}).get("data", {})
                if "accuracy" in metric:
                    return metric["accuracy"]

        assert accuracy(42) is not None and accuracy(7) is not None
        shown = run(["dvc", "metrics", "show"], project, env).stdout  # a row per model and ensemble
        assert "quick_cnn/headline.json" in shown and max(map(len, shown.splitlines())) <= 120, shown
        # make exp-show: the params and metrics that differ (the tiny data's metrics may not), no dependency hashes
        compared = run(["dvc", "exp", "show", "--no-pager", "--only-changed", "--drop", ".*/|Created"], project, env).stdout
        assert "train.seed" in compared and max(map(len, compared.splitlines())) <= 120, compared
        assert run(["snakemake", "-n", *SNAKEMAKE[1:]], project, env).stdout.count("rule train") >= 1  # its metadata: seed 42
        run(["snakemake", "--touch", *SNAKEMAKE[1:]], project, env)
        dry = run(["snakemake", "-n", *SNAKEMAKE[1:]], project, env)
        assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    finally:  # the later tests start from seed 42 whatever failed here
        run(["git", "checkout", "--", "."], project, env)  # seed 42 again: params, dvc.lock and git-kept outputs
        run(["dvc", "checkout", "--force"], project, env)
        run(["snakemake", "--touch", *SNAKEMAKE[1:]], project, env)
    assert json.loads((project / "models/idrees/quick_cnn/labels.json").read_text())["seed"] == 42


def test_dag_matches_dvc_yaml(tiny):
    """Every Snakemake job has a dvc.yaml stage with the same command, inputs and outputs, and vice versa."""
    project, env = tiny
    run(["allrepro", "dvc-yaml", "--check"], project, env)
    summary = run(["snakemake", "--cores", "1", "--detailed-summary", "--nolock", "--config", "experiment=all"],
                  project, env).stdout
    rows = list(csv.DictReader(io.StringIO(summary[summary.index("output_file"):]), delimiter="\t"))
    snake = {}
    for row in rows:
        cmd = re.split(r" > | 2>&1 \| ", re.sub(r"^ALLREPRO_WORKERS=\d+ ", "", row["shellcmd"]))[0].strip()
        job = snake.setdefault(cmd, {"rule": row["rule"], "outs": set(), "deps": set(row["input-file(s)"].split(","))})
        job["outs"].add(row["output_file"])
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    dvc = {}
    for name, st in stages.items():
        outs = {o if isinstance(o, str) else next(iter(o)) for o in st["outs"]} | {next(iter(m)) for m in st.get("metrics", [])}
        dvc[st["cmd"]] = {"rule": name.split("_")[0], "outs": outs, "deps": set(st["deps"])}
    assert snake.keys() == dvc.keys()
    for cmd in snake:
        assert snake[cmd] == dvc[cmd], cmd


DATA_STAGES = ("acquire", "segment", "duplicates", "agreement", "split", "cache")


def test_dvc_takes_over_snakemakes_outputs_then_reruns_what_a_change_needs(tiny):
    """The two tools share one workspace: the Snakefile's onsuccess records what Snakemake made in dvc.lock (the
    way `dvc commit` does), after which `dvc repro` has nothing to do. Each data stage,
    forced to rerun under DVC, writes byte-identical outputs. Then parameter changes rerun exactly their
    stages under DVC. (Training under DVC: the `dvc exp run` test below.)"""
    project, env = tiny
    assert (project / "dvc.lock").is_file()  # the Snakemake runs of the tests above, recorded by its onsuccess
    again = run(["dvc", "repro"], project, env)
    assert dvc_stages(again.stdout) == [], again.stdout  # no stage reruns (how fast is not asserted)

    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    first_of_each = [next(n for n in stages if n.split("_")[0] == kind) for kind in DATA_STAGES]
    outs = [o if isinstance(o, str) else next(iter(o)) for n in first_of_each for o in stages[n]["outs"]]
    before = {o: tree_digest(project / o) for o in outs}
    forced = run(["dvc", "repro", "--force", "--single-item", *first_of_each], project, env)
    assert sorted(dvc_stages(forced.stdout)) == sorted(first_of_each), forced.stdout
    assert {o: tree_digest(project / o) for o in outs} == before
    assert "up to date" in run(["dvc", "status"], project, env).stdout
    run(["snakemake", "--touch", *SNAKEMAKE[1:]], project, env)  # same bytes, newer files: nothing for Snakemake to redo

    # (a report-only change: what DVC would rerun is in tests/test_reruns.py; Snakemake ran one for real above)
    set_param(project, "experiments.patel.ensemble.weights", [[0.5, 0.5], [0.2, 0.8]])
    changed = run(["dvc", "repro"], project, env)
    ran = dvc_stages(changed.stdout)
    # the audit reruns only when the ensemble's predictions changed (DVC compares content)
    assert sorted(ran) in (["ensemble_patel", "export_patel", "report_patel"],
                           ["audit_patel", "ensemble_patel", "export_patel", "report_patel"]), ran
    metrics = run(["dvc", "metrics", "show", "--json"], project, env).stdout
    assert "reports/idrees/quick_cnn/headline.json" in metrics and "accuracy" in metrics


def dvc_outputs(project: Path) -> list[str]:
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    return [o if isinstance(o, str) else next(iter(o)) for st in stages.values()
            for o in st["outs"] + st.get("metrics", [])]


def tree_digest(path: Path) -> dict[str, str]:
    """sha256 of a file, or of every file under a folder (links followed: content, not how it is stored)."""
    import hashlib

    # Snakemake's marker in a directory() output is no content (.dvcignore: DVC neither hashes nor keeps it)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                  and p.name != ".snakemake_timestamp")
    return {str(f.relative_to(path.parent)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_dvc_push_then_pull_into_a_fresh_clone_restores_every_output(tiny):
    """The default remote (.dvc/config: a folder beside the checkout); git keeps the code, params, dvc.lock
    and the small uncached outputs, the remote the rest: a clone plus `dvc pull` has every output, byte for
    byte, and nothing to run."""
    project, env = tiny
    run(["dvc", "repro"], project, env)
    run(["dvc", "push"], project, env)
    assert (project.parent / "allrepro-dvc-storage").is_dir()
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-qm", "a complete run"], project, env)
    clone = project.parent / "clone"  # beside the project, so its relative default remote is the same folder
    run(["git", "clone", "-q", str(project), str(clone)], project.parent, env)
    pulled = run(["dvc", "pull"], clone, env)
    assert not dvc_stages(pulled.stdout)
    for out in dvc_outputs(project):
        assert tree_digest(clone / out) == tree_digest(project / out), out
    status = run(["dvc", "status"], clone, env)
    assert "up to date" in status.stdout, status.stdout


def find(node, test):
    """Every dict in a JSON tree for which test(dict) holds."""
    if isinstance(node, dict):
        if test(node):
            yield node
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            yield from find(item, test)


def test_dvc_plots_show_the_confusion_counts_and_the_training_curves(tiny):
    import json

    import pandas as pd

    project, env = tiny
    data = json.loads(run(["dvc", "plots", "show", "--json"], project, env).stdout)["data"]
    confusion = data["reports/idrees/quick_cnn/confusion_test"][0]["content"]
    rows = pd.DataFrame(confusion["data"]["values"])
    assert '"op": "count"' in json.dumps(confusion["spec"])  # the template counts rows
    predictions = pd.read_csv(project / "reports/idrees/quick_cnn/predictions_test.csv")
    expected = predictions.groupby(["true", "pred"]).size()
    assert rows.groupby(["true", "pred"]).size().equals(expected)  # one row per test image, no pre-aggregation
    for metric in ("loss", "accuracy"):
        curve = pd.DataFrame(data[f"models/idrees/quick_cnn/{metric}"][0]["content"]["data"]["values"])
        history = pd.read_csv(project / "models/idrees/quick_cnn/history.csv")
        assert sorted(set(curve["field"])) == [metric, f"val_{metric}"]  # the curves drawn: train and validation
        assert len(curve) == len(history) * 2  # every epoch of both
    assert "reports/idrees/quick_cnn/confusion.png" in data


def test_git_keeps_exactly_the_outputs_dvc_does_not_cache():
    """.gitignore and dvcyaml.GIT_TRACKED agree: every uncached output (metrics, histories, test predictions,
    figures) is visible to git, every cached one ignored."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    outs = [next(iter(o.items())) for st in stages.values() for o in st["outs"] + st.get("metrics", [])]
    uncached = {path for path, opts in outs if opts.get("cache") is False}
    cached = {path for path, opts in outs if opts.get("cache", True)}
    assert uncached and cached
    out = run(["git", "check-ignore", "--no-index", "--stdin"], ROOT, check=False, input="\n".join(sorted(uncached | cached)))
    ignored = set(out.stdout.split())
    assert not uncached & ignored, sorted(uncached & ignored)[:5]
    assert cached <= ignored, sorted(cached - ignored)[:5]


def test_corrected_images_are_consistent_with_the_predictions(tiny):
    """Every listed image is wrong for that member and right for the ensemble, and none is missing."""
    import pandas as pd

    project, _ = tiny
    reports = project / "reports/patel"
    ensemble = pd.read_csv(reports / "ensemble/predictions.csv").set_index("path")
    corrected = pd.read_csv(reports / "ensemble/corrected.csv")
    for member in ("quick_cnn", "quick_cnn_b"):
        preds = pd.read_csv(reports / member / "predictions_test.csv").set_index("path")
        fixed = preds[(preds["pred"] != preds["true"]) & (ensemble.loc[preds.index, "pred"] == preds["true"])]
        listed = corrected[corrected["member"] == member]
        for kind in ("FN->TP", "FP->TN"):
            rows = listed[listed["kind"] == kind]
            assert sorted(rows["path"]) == sorted(fixed.index)
            expected = fixed["true"] if kind == "FN->TP" else fixed["pred"]
            assert dict(zip(rows["path"], rows["class"])) == expected.to_dict()
        for path in listed["path"]:
            link = reports / "ensemble/corrected" / member / "FN_to_TP" / preds.loc[path, "true"] / Path(path).name
            assert link.is_symlink() and link.resolve() == (project / path).resolve()


def predicted(project: Path, env: dict, bundle: str, images: list[str]):
    import pandas as pd

    out = project / f"predict-{bundle}.csv"
    run(["allrepro", "predict", *images, "--bundle", f"bundles/{bundle}", "--out", str(out)], project, env)
    return pd.read_csv(out)


def test_predict_gives_the_evaluate_stage_probabilities(tiny):
    """`allrepro predict` on the run's own test images, given as a user has them (the original files, which
    the bundle segments itself when its model was trained on segmented images), gives the probabilities of
    the evaluate stage to 1e-6: a single model (idrees, segmented) and the patel ensemble with its decisions."""
    import pandas as pd

    project, env = tiny
    test = pd.read_csv(project / "data/processed/idrees/split/test.csv")
    source = pd.read_csv(project / "data/interim/mehradaria/segmented.csv").set_index("path")["source"]
    ours = predicted(project, env, "idrees", list(source[test["path"]]))
    ref = pd.read_csv(project / "reports/idrees/quick_cnn/predictions_test.csv")
    columns = [c for c in ref if c.startswith("p_")]
    assert list(ref.columns[:3]) == ["path", "true", "pred"] and len(columns) == 4  # the evaluate stage's table
    assert abs(ref[columns].sum(axis=1) - 1).max() <= 1e-4
    assert len(ours) == len(ref) > 0 and not ours["error"].notna().any()
    assert abs(ours[columns].to_numpy() - ref[columns].to_numpy()).max() <= 1e-6 + 1e-12

    ensemble = pd.read_csv(project / "reports/patel/ensemble/predictions.csv")
    ours = predicted(project, env, "patel", list(ensemble["path"]))
    assert abs(ours[columns].to_numpy() - ensemble[columns].to_numpy()).max() <= 1e-6 + 1e-12
    decisions = ours["decision"].replace("no confident prediction", "none")
    assert list(decisions) == list(ensemble["pred"])
    for member in ("quick_cnn", "quick_cnn_b"):
        assert list(ours[f"vote_{member}"]) == list(pd.read_csv(project / f"reports/patel/{member}/predictions_test.csv")["pred"])


def test_the_bundle_describes_itself_and_carries_its_model_card(tiny):
    import json

    project, _ = tiny
    spec = json.loads((project / "bundles/patel/bundle.json").read_text())
    ensemble = json.loads((project / "reports/patel/ensemble/metrics.json").read_text())
    assert spec["decision"]["rule"] == "ensemble"
    assert (spec["decision"]["weights"], spec["decision"]["gamma"]) == (ensemble["weights"], ensemble["gamma"])
    assert spec["preprocessing"]["images"] == "original"
    idrees = json.loads((project / "bundles/idrees/bundle.json").read_text())
    assert idrees["preprocessing"]["images"] == "segmented" and idrees["preprocessing"]["segment"]["hsv_lower"]
    assert {"low", "high", "value"} <= set(spec["test"]["accuracy"]) and spec["audit"]["verdicts"]
    card = (project / "bundles/patel/model_card.md").read_text()
    for words in ("Intended use", "not for diagnosis", "patient", "Test metrics", "Audit verdicts", "tensorflow"):
        assert words.lower() in card.lower(), words
    meta = json.loads((project / "bundles/patel/metadata.json").read_text())
    assert meta["network_data_format"]["outputs"]["pred"]["num_channels"] == 4
    assert "<table>" in (project / "bundles/patel/model_card.html").read_text()


def test_the_exported_models_load_with_plain_keras_where_allrepro_is_not_installed(tiny, tmp_path):
    """Each bundle carries its networks as plain Keras (models/<m>.plain.keras): in a fresh venv that sees the
    installed packages but not allrepro, keras.saving.load_model reads them and gives the evaluate stage's test
    probabilities; the bundle's README.md is a Hugging Face model card whose front matter parses."""
    import subprocess
    import sys
    import sysconfig

    project, env = tiny
    venv = tmp_path / "plain"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    # the packages only: a directory on sys.path, not a site dir, so allrepro's editable-install hook never runs
    (site / "packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pairs = (("idrees", "quick_cnn"), ("patel", "quick_cnn_b"))
    code = "import importlib.util, sys, numpy as np, keras\n" \
           "assert importlib.util.find_spec('allrepro') is None, 'allrepro is importable'\n"
    for exp, model in pairs:  # both bundles in one process: one start of Keras
        spec = json.loads((project / f"bundles/{exp}/bundle.json").read_text())
        member = next(m for m in spec["members"] if m["name"] == model)
        cache = project / f"data/processed/{exp}/cache/{member['input_size']}/test.npy"
        code += (f"m = keras.saving.load_model({str(project / 'bundles' / exp / member['plain_file'])!r})\n"
                 f"np.save({str(tmp_path / f'{exp}.npy')!r}, m.predict(np.load({str(cache)!r}), verbose=0))\n")
    proc = subprocess.run([str(venv / "bin/python"), "-c", code], capture_output=True, text=True,
                          env={k: v for k, v in env.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for exp, model in pairs:
        out = tmp_path / f"{exp}.npy"
        ref = pd.read_csv(project / f"reports/{exp}/{model}/predictions_test.csv")
        columns = [c for c in ref if c.startswith("p_")]
        import numpy as np
        assert np.abs(np.load(out) - ref[columns].to_numpy()).max() <= 1e-5
        readme = (project / f"bundles/{exp}/README.md").read_text()
        front = yaml.safe_load(readme.split("---\n")[1])
        assert front["license"] and front["library_name"] == "keras" and front["datasets"]
        metrics = front["model-index"][0]["results"][0]["metrics"]
        assert {m["type"] for m in metrics} >= {"accuracy", "matthews_correlation"}
        assert "keras.saving.load_model" in readme and "## Citation" in readme


def test_a_model_shared_by_experiments_is_trained_once(tiny, tmp_path):
    """An experiment that differs from patel only in its ensemble (patel_best, added to a copy of the project) has no
    train stage of its own under either tool: its evaluations read patel's models, so they give patel's test
    probabilities, and nothing is written under models/patel_best."""
    import copy
    import shutil

    project, env = tiny
    shutil.copytree(project, tmp_path / "project", symlinks=True)  # file times kept: patel's models are up to date
    project = tmp_path / "project"
    cfg = yaml.safe_load((project / "params.yaml").read_text())
    cfg["experiments"]["patel_best"] = copy.deepcopy(cfg["experiments"]["patel"])
    cfg["experiments"]["patel_best"]["ensemble"].update(fallback="best", thresholds=[0.9])
    (project / "params.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    run(["allrepro", "dvc-yaml"], project, env)
    stages = yaml.safe_load((project / "dvc.yaml").read_text())["stages"]
    assert sorted(n for n in stages if n.startswith("train_")) == [
        "train_idrees_quick_cnn", "train_patel_quick_cnn", "train_patel_quick_cnn_b"]
    assert "models/patel/quick_cnn_b/model.keras" in stages["evaluate_patel_best_quick_cnn_b"]["deps"]
    out = run(["snakemake", "reports/patel_best/ensemble/metrics.json", "--cores", "2", "--resources", "gpu=1",
               "--config", "experiment=patel_best"], project, env)
    jobs = snakemake_jobs(out.stdout + out.stderr)
    assert "train" not in jobs and jobs.count("evaluate") == 2 and "ensemble" in jobs, jobs
    for model in ("quick_cnn", "quick_cnn_b"):
        ours = pd.read_csv(project / f"reports/patel_best/{model}/predictions_test.csv")
        assert ours.equals(pd.read_csv(project / f"reports/patel/{model}/predictions_test.csv")), model
    assert json.loads((project / "reports/patel_best/ensemble/metrics.json").read_text())["gamma"] == 0.9
    assert not (project / "models/patel_best").exists()


def test_repeats_run_once_per_seed_under_both_tools(tiny):
    """patel (two members, the ensemble) with one training repeat (`repeats: [7]`): Snakemake runs every
    repeated stage once more under seeds/7/ and never retrains the primary run; the spread table holds both seeds,
    the report shows it; dvc.yaml has the same jobs; adding a seed schedules only that seed's jobs."""
    project, env = tiny
    repeat = ["snakemake", "--cores", "2", "--resources", "gpu=1", "--config", "experiment=patel", "repeats=[7]"]
    run(["snakemake", "--touch", *SNAKEMAKE[1:]], project, env)  # DVC's runs of the tests above, recorded
    out = run(repeat, project, env)
    jobs = snakemake_jobs(out.stdout + out.stderr)
    assert sorted(set(jobs) - {"all"}) == ["audit_seed", "ensemble_seed", "evaluate_seed", "report", "scorecard",
                                           "spread", "train_seed"], jobs
    # training shows its progress on the terminal (the rest of its output stays in its log)
    assert re.search(r"(?m)^train patel/quick_cnn seed 7: epoch 1/1 \(phase 1\), accuracy", out.stdout + out.stderr)
    assert (jobs.count("train_seed"), jobs.count("evaluate_seed")) == (2, 2)
    for model in ("quick_cnn", "quick_cnn_b"):
        primary = json.loads((project / f"models/patel/{model}/labels.json").read_text())
        again = json.loads((project / f"models/patel/{model}/seeds/7/labels.json").read_text())
        assert (primary["seed"], again["seed"]) == (42, 7)
        assert (project / f"reports/patel/{model}/seeds/7/predictions_test.csv").is_file()
    assert json.loads((project / "reports/patel/audit/seeds/7/audit.json").read_text())["seed"] == 7

    spread = pd.read_csv(project / "reports/patel/spread.csv")
    assert set(spread["model"]) == {"quick_cnn", "quick_cnn_b", "ensemble"} and (spread["seeds"] == 2).all()
    for r in spread[spread["metric"] == "accuracy"].itertuples():  # the table holds what each seed's audit says
        for seed, at in ((42, "audit"), (7, "audit/seeds/7")):
            iv = pd.read_csv(project / f"reports/patel/{at}/intervals.csv")
            value = iv[(iv["model"] == r.model) & (iv["metric"] == "accuracy")]["value"].iloc[0]
            assert f"{seed}:{value:.4f}" in r.values
    summary = json.loads((project / "reports/patel/spread.json").read_text())
    assert summary["seeds"] == [42, 7] and [c["seed"] for c in summary["ensemble_choices"]] == [42, 7]
    assert summary["paper"] and all(p["seeds"] == 2 for p in summary["paper"])
    html = (project / "reports/patel/report.html").read_text()
    assert "Over training seeds" in html and "is not judged" in html  # the quick stand-in: no verdict on a paper's number

    # dvc.yaml made with the same repeats: the same command and outputs, the spread kept by git
    dvc_yaml = project / "dvc.repeats.yaml"
    run(["allrepro", "dvc-yaml", "--set", "repeats=[7]", "--out", str(dvc_yaml)], project, env)
    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    assert stages["train_patel_quick_cnn_seed7"]["cmd"] == (
        "allrepro train --params params.yaml --experiment patel --model quick_cnn --seed 7")
    assert {"models/patel/quick_cnn/seeds/7/model.keras": {"persist": True}} in stages["train_patel_quick_cnn_seed7"]["outs"]
    assert {"reports/patel/spread.json": {"cache": False, "persist": True}} in stages["spread_patel"]["outs"]
    dvc_yaml.unlink()

    # one more seed: only its own jobs (and the spread, report after it); seed 7 is not trained again
    more = run([*repeat[:-1], "repeats=[7,8]", "-n"], project, env).stdout
    assert snakemake_jobs(more).count("train_seed") == 2, more[-3000:]
    outputs = "\n".join(line for line in more.splitlines() if line.strip().startswith("output:"))
    assert set(re.findall(r"models/patel/[\w/]+/model\.keras", outputs)) == {
        "models/patel/quick_cnn/seeds/8/model.keras", "models/patel/quick_cnn_b/seeds/8/model.keras"}

    # a seed that is not in `repeats` is refused before any work, naming the key
    bad = run(["allrepro", "train", "--experiment", "patel", "--model", "quick_cnn", "--seed", "8"], project, env,
              check=False)
    assert bad.returncode != 0 and "'repeats'" in bad.stderr
