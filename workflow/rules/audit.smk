# The audit (src/allrepro/audit/): duplicates and segmentation agreement per dataset, then per experiment
# leakage, colour-only baselines, bootstrap intervals, McNemar and the check of the papers' numbers.
rule duplicates:
    input:
        unpack(stage_inputs("duplicates")),
    output:
        **pipeline.outputs("duplicates"),
    log:
        "logs/duplicates/{ds}.log",
    conda:
        ENV
    params:
        p=stage_params("duplicates"),
    shell:
        stage_shell("duplicates", ds="{wildcards.ds}")


rule agreement:
    input:
        unpack(stage_inputs("agreement")),
    output:
        **pipeline.outputs("agreement"),
    log:
        "logs/agreement/{ds}.log",
    conda:
        ENV
    params:
        p=stage_params("agreement"),
    shell:
        stage_shell("agreement", ds="{wildcards.ds}")


rule audit:
    input:
        unpack(stage_inputs("audit")),
    output:
        **pipeline.outputs("audit"),
    log:
        "logs/audit/{exp}.log",
    conda:
        ENV
    params:
        p=stage_params("audit"),
    shell:
        stage_shell("audit", exp="{wildcards.exp}")
