rule acquire:
    input:
        unpack(stage_inputs("acquire")),
    output:
        dataset=directory(pipeline.outputs("acquire")["dataset"]),
        manifest=pipeline.outputs("acquire")["manifest"],
        bad_files=pipeline.outputs("acquire")["bad_files"],
    log:
        "logs/acquire/{ds}.log",
    conda:
        ENV
    params:
        p=stage_params("acquire"),
    shell:
        stage_shell("acquire", ds="{wildcards.ds}")
