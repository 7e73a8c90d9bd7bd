# Shared set-up for every rule: validate params before any job, forward --config overrides to the
# stage commands, and expose the stage table (src/allrepro/pipeline.py) that dvc.yaml is made from.
import json
import os

from snakemake.exceptions import WorkflowError

from allrepro import layout, pipeline
from allrepro.params import (
    ParamsError,
    from_snakemake,
    read_yaml,
    selected_experiments,
    validate as validate_params,
)

# The schema (workflow/schemas/params.schema.yaml) plus the checks a schema cannot express, with
# errors that name the offending key; the same function every `allrepro` stage command calls.
try:
    validate_params(from_snakemake(config), origin="params.yaml (with --config)")
except ParamsError as exc:
    raise WorkflowError(str(exc))

ENV = "../../envs/allrepro.yaml"
# A job's command: everything it prints goes to its log, and its `progress:` lines (training: one per epoch) to the
# terminal as well. One string for every rule: a shell: directive is evaluated when the job runs, after the loop in
# stages.smk has moved on, so it cannot depend on its stage.
JOB_SHELL = "ALLREPRO_WORKERS={threads} {params.cmd} 2>&1 | tee {log} | sed -un 's/^progress: //p'"
# Snakemake lowers a job's threads to --cores; `workflow.cores` itself is undefined for commands that run
# no job (`snakemake --unlock`, `--list-rules`), which then refused to start.
ALL_CORES = os.cpu_count() or 1
EXPERIMENTS = selected_experiments(config)  # --config experiment=all runs them all
# every output of every job of the selection: the same jobs `dvc repro` runs (pipeline.jobs, each record's fan-out)
ALL_OUTPUTS = [out for job in pipeline.jobs(config, EXPERIMENTS) for out in job["outs"]]


def _flatten(node, prefix=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _flatten(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], node


def _overrides():
    """KEY=VALUE for every value --config/--configfile changed, so the stage commands see them too."""
    with open("params.yaml") as fh:
        base = dict(_flatten(read_yaml(fh.read())))
    return [
        f"{k}={json.dumps(v)}"
        for k, v in _flatten(config)
        if k not in base or base[k] != v
    ]


# Passed to the jobs on their command line (`--set KEY=VALUE`, only the keys a job reads): the log and a rerun show
# them, and a job without overrides runs the very command dvc.yaml has.
OVERRIDES = _overrides()


def stage_params(stage):
    """The params a stage reads, as Snakemake params: a change to them (only) reruns the job."""
    return lambda w: json.dumps(
        pipeline.param_values(
            config, pipeline.param_keys(config, stage, active=False, **dict(w.items()))
        ),
        sort_keys=True,
    )


def stage_priority(stage):
    """The longest training jobs first (pipeline.priority); bound to its stage here, as the loop moves on."""
    return lambda w: pipeline.priority(config, stage, **dict(w.items()))


def stage_inputs(stage):
    return lambda w: pipeline.inputs(config, stage, **dict(w.items()))


def stage_outputs(stage, seeded):
    """A stage's outputs: folders as directory(), its key figures (the primary run's) as report() items with
    their caption."""
    st = pipeline.STAGES[stage]
    out = {}
    for key, path in pipeline.outputs(stage, seeded).items():
        if key in st.directories:
            path = directory(path)
        elif key in st.figures and not seeded:
            # the scorecard is one page across the experiments
            per_exp = "exp" in st.wildcards
            path = report(
                path,
                caption=f"../report/{st.figures[key]}",
                category=stage,
                subcategory="{exp}" if per_exp else "all papers",
                labels={
                    "experiment": "{exp}" if per_exp else "all selected",
                    "model": "{model}" if "model" in st.wildcards else stage,
                },
            )
        out[key] = path
    return out


def stage_command(stage):
    """The job's command, the one in dvc.yaml, as a param: a rule's shell: is evaluated when the job runs, after
    the loop in stages.smk has moved on, so it cannot name its stage; a param is bound when the rule is made.
    """

    def command(wildcards):
        wc = dict(wildcards.items())
        sets = pipeline.overrides_for(config, stage, OVERRIDES, **wc)
        return pipeline.command(stage, overrides=sets, **wc)

    return command


wildcard_constraints:
    exp="[A-Za-z0-9_-]+",
    model="(?!ensemble/)[A-Za-z0-9_-]+",  # reports/<exp>/ensemble/ belongs to the ensemble rule
    size=r"\d+",
    part="train|val|test",
    seed=r"\d+",
    ds="[A-Za-z0-9_-]+",


def record_in_dvc():
    """After a successful run: dvc.lock records what this run made (dvcyaml.record), so DVC takes over from here
    without deleting or rebuilding it."""
    from allrepro import dvcyaml
    from allrepro.params import load

    # --touch ran nothing: the files are DVC's (after `dvc repro`) or a user's; `dvc commit` records the latter
    if workflow.touch:
        print(
            "DVC: --touch ran nothing, so dvc.lock is left as it is (`dvc commit` records files made elsewhere)"
        )
        return
    made = {str(f) for job in workflow.dag.jobs for f in job.output}
    # the run itself succeeded: an error here says why DVC was not told, and never fails it
    try:
        print(dvcyaml.record(load("params.yaml"), made, OVERRIDES))
    except Exception as exc:
        print(f"DVC: not recorded ({type(exc).__name__}: {exc})")
