rule train:
    input:
        unpack(stage_inputs("train")),
    output:
        **pipeline.outputs("train"),
    log:
        "logs/train/{exp}/{model}.log",
    conda:
        ENV
    threads: ALL_CORES
    resources:
        gpu=1,
    params:
        p=stage_params("train"),
    shell:
        stage_shell("train", exp="{wildcards.exp}", model="{wildcards.model}")
