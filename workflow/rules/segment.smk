rule segment:
    input:
        unpack(stage_inputs("segment")),
    output:
        images=directory(pipeline.outputs("segment")["images"]),
        manifest=pipeline.outputs("segment")["manifest"],
    log:
        "logs/segment/{ds}.log",
    conda:
        ENV
    threads: ALL_CORES
    params:
        p=stage_params("segment"),
    shell:
        stage_shell("segment", env="ALLREPRO_WORKERS={threads}", ds="{wildcards.ds}")
