# allrepro — Snakemake entry point. Thin on purpose: parameters in params.yaml, rules in workflow/rules/.
#   snakemake --cores 8 --resources gpu=1                      # the experiment and profile named in params.yaml
#   snakemake --cores 8 --config profile=paper experiment=patel   (experiment=all: every experiment)
import gc

from snakemake.utils import min_version

min_version("8.0")


configfile: "params.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/stages.smk"


# What exists now (Snakemake's modules, allrepro's, the rules) lives as long as the run: the garbage collections of
# building the DAG and of the exit need not walk it (0.2 s of the 1.3 s of `snakemake -n` on the tiny project)
gc.freeze()


rule all:
    default_target: True
    input:
        ALL_OUTPUTS,


onsuccess:
    record_in_dvc()
