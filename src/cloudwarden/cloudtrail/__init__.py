"""CloudTrail: sources (files, S3, SQS), parsing, normalisation to ApiActivity, checkpointed ingest."""
