# One rule per stage record of src/allrepro/pipeline.py (the same records the CLI and dvc.yaml are made
# from): its inputs (code dependencies included), outputs (folders as directory()), params, log,
# threads and gpu share, and the stage's one command. A stage run once per training seed (train, evaluate,
# ensemble, audit) has a second rule, <stage>_seed, for the seeds of `repeats:`.
for stage, seeded in pipeline.rules():
    st = pipeline.STAGES[stage]

    rule:
        name:
            pipeline.rule_name(stage, seeded)
        input:
            unpack(stage_inputs(st.name)),
        output:
            **stage_outputs(st.name, seeded),
        log:
            st.log(**pipeline.patterns(stage, seeded)),
        priority: stage_priority(st.name)
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
            JOB_SHELL
