rule evaluate:
    input:
        unpack(stage_inputs("evaluate")),
    output:
        **pipeline.outputs("evaluate"),
    params:
        p=stage_params("evaluate"),
    log:
        "logs/evaluate/{exp}/{model}.log",
    conda:
        ENV
    shell:
        stage_shell("evaluate", exp="{wildcards.exp}", model="{wildcards.model}")
