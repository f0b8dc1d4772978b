"""The scheduler's jobs and the work done beside the pipeline: timers, the sweeper, incident grouping, retention, retraining, reports, suggested answers, deflection."""
