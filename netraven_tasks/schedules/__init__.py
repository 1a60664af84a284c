"""Schedules: job runs launched by beat at interval or cron slots, watched for late and missed runs."""
