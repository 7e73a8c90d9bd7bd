rule ensemble:
    input:
        unpack(stage_inputs("ensemble")),
    output:
        **{k: v for k, v in pipeline.outputs("ensemble").items() if k != "corrected"},
        corrected=directory(pipeline.outputs("ensemble")["corrected"]),
    log:
        "logs/ensemble/{exp}.log",
    conda:
        ENV
    params:
        p=stage_params("ensemble"),
    shell:
        stage_shell("ensemble", exp="{wildcards.exp}")
