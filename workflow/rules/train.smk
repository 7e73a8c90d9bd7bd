rule train:
    input:
        unpack(stage_inputs("train")),
    output:
        **pipeline.outputs("train"),
    params:
        p=stage_params("train"),
    threads: ALL_CORES
    resources:
        gpu=1,
    log:
        "logs/train/{exp}/{model}.log",
    conda:
        ENV
    shell:
        stage_shell("train", exp="{wildcards.exp}", model="{wildcards.model}")
