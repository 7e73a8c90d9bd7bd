rule evaluate:
    input:
        unpack(stage_inputs("evaluate")),
    output:
        **pipeline.outputs("evaluate"),
    log:
        "logs/evaluate/{exp}/{model}.log",
    conda:
        ENV
    params:
        p=stage_params("evaluate"),
    shell:
        stage_shell("evaluate", exp="{wildcards.exp}", model="{wildcards.model}")
