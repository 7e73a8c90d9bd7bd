rule report:
    input:
        unpack(stage_inputs("report")),
    output:
        **pipeline.outputs("report"),
    params:
        p=stage_params("report"),
    log:
        "logs/report/{exp}.log",
    conda:
        ENV
    shell:
        stage_shell("report", exp="{wildcards.exp}")
