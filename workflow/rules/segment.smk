rule segment:
    input:
        unpack(stage_inputs("segment")),
    output:
        images=directory(pipeline.outputs("segment")["images"]),
        manifest=pipeline.outputs("segment")["manifest"],
    params:
        p=stage_params("segment"),
    threads: ALL_CORES
    log:
        "logs/segment/{ds}.log",
    conda:
        ENV
    shell:
        "ALLREPRO_WORKERS={threads} " + stage_shell("segment", ds="{wildcards.ds}")
