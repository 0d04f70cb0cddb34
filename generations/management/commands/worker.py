"""`manage.py worker` (bin/worker): a job worker that outlives a database restart and says why it stopped.

It runs the generations queue as `manage.py procrastinate worker` would, with the settings' worker defaults, but
over OutageTolerantConnector (lib/db.py): while the database is away its queries and its LISTEN connection are
tried again, so a restart costs neither the worker nor what it was making. SIGTERM or SIGINT stops it gracefully
(running generations finish within WORKER_SHUTDOWN_TIMEOUT_S; a second signal ends it at once) with status 0.
Stopping for any other reason (the database away for longer than WORKER_DATABASE_OUTAGE_S) exits with status 1,
so that a supervisor (`restart: on-failure`) starts another.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from procrastinate.contrib.django import app as job_engine
from procrastinate.contrib.django.utils import connector_params

from lib.db import OutageTolerantConnector

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STARTED_MESSAGE = "Launching a worker on all queues"  # what `manage.py procrastinate worker` says


class Command(BaseCommand):
    help = "Run a job worker: it makes the queued generations, WORKER_CONCURRENCY at a time."

    def handle(self, *args: object, **options: object) -> None:
        connector = OutageTolerantConnector(
            kwargs=connector_params(),
            outage_grace_s=settings.WORKER_DATABASE_OUTAGE_S,
            reconnect_timeout=settings.DATABASE_RECONNECT_TIMEOUT_S,
        )
        with job_engine.replace_connector(connector):
            stopped_by_a_signal = asyncio.run(_run_until_stopped())
        if not stopped_by_a_signal:
            raise CommandError("the worker stopped by itself (the log says why): exiting with status 1")


async def _run_until_stopped() -> bool:
    """Run a worker until a stop signal (True) or until it stops or fails by itself (False)."""
    loop = asyncio.get_running_loop()
    signalled = asyncio.Event()
    async with job_engine.open_async():
        print(STARTED_MESSAGE, file=sys.stderr, flush=True)
        worker = asyncio.create_task(job_engine.run_worker_async(install_signal_handlers=False))

        def stop() -> None:
            signalled.set()
            for stop_signal in STOP_SIGNALS:
                loop.remove_signal_handler(stop_signal)
            worker.cancel()  # procrastinate's graceful stop: no new jobs, running ones finish

        for stop_signal in STOP_SIGNALS:
            loop.add_signal_handler(stop_signal, stop)
        try:
            await worker
        except asyncio.CancelledError:
            if not signalled.is_set():
                raise
        except Exception:
            logger.exception("the worker failed")
    return signalled.is_set()
