"""Distributed workers: the durable job rows executed by Celery on a Redis broker."""
