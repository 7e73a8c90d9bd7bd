# One rule per stage record of src/allrepro/pipeline.py (the same records the CLI and dvc.yaml are made
# from): its inputs (code dependencies included), outputs (folders as directory()), params, log,
# threads and gpu share, and the stage's one command.
for st in pipeline.STAGES.values():

    rule:
        name:
            st.name
        input:
            unpack(stage_inputs(st.name)),
        output:
            **stage_outputs(st.name),
        log:
            st.log(**pipeline.PATTERNS),
        conda:
            ENV
        threads: pipeline.threads(config, st.name, ALL_CORES)
        resources:
            gpu=st.gpu,
        params:
            p=stage_params(st.name),
            cmd=stage_command(st.name),
        shell:
            # processes a stage starts (segment's workers) follow the job's threads
            "ALLREPRO_WORKERS={threads} {params.cmd} > {log} 2>&1"
