rule report:
    input:
        unpack(stage_inputs("report")),
    output:
        **pipeline.outputs("report"),
    log:
        "logs/report/{exp}.log",
    conda:
        ENV
    params:
        p=stage_params("report"),
    shell:
        stage_shell("report", exp="{wildcards.exp}")
