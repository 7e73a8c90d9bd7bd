rule split:
    input:
        unpack(stage_inputs("split")),
    output:
        **pipeline.outputs("split"),
    log:
        "logs/split/{exp}.log",
    conda:
        ENV
    params:
        p=stage_params("split"),
    shell:
        stage_shell("split", exp="{wildcards.exp}")


rule cache:
    input:
        unpack(stage_inputs("cache")),
    output:
        **pipeline.outputs("cache"),
    log:
        "logs/cache/{exp}_{size}_{part}.log",
    conda:
        ENV
    params:
        p=stage_params("cache"),
    shell:
        stage_shell(
            "cache",
            exp="{wildcards.exp}",
            size="{wildcards.size}",
            part="{wildcards.part}",
        )
