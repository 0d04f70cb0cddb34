"""`/metrics` in Prometheus's text format: queue depth, running generations, live workers, outcomes by code, and
provider and queue-wait latency histograms. Everything is counted from the database, so any web instance answers
for the whole cluster, and the counters survive restarts.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from generations.selectors import Histogram, OperationsSnapshot, operations_snapshot


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    # Compared as bytes: a header may hold any byte (decoded as Latin-1), which compare_digest refuses in a str.
    if settings.METRICS_TOKEN and not hmac.compare_digest(
        request.headers.get("Authorization", "").encode("latin-1", "replace"),
        f"Bearer {settings.METRICS_TOKEN}".encode(),
    ):
        return HttpResponse(
            "Send Authorization: Bearer $METRICS_TOKEN.\n", status=401, content_type="text/plain"
        )
    registry = CollectorRegistry()
    registry.register(_Collector(operations_snapshot(worker_alive_s=settings.WORKER_STALLED_AFTER_S)))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _Collector:
    def __init__(self, snapshot: OperationsSnapshot) -> None:
        self.snapshot = snapshot

    def collect(self):
        snapshot = self.snapshot
        yield GaugeMetricFamily(
            "zimage_queue_depth", "Generations waiting in the queue.", value=snapshot.queued
        )
        yield GaugeMetricFamily(
            "zimage_running", "Generations a worker is making now.", value=snapshot.running
        )
        yield GaugeMetricFamily(
            "zimage_workers", "Workers whose heartbeat is recent.", value=snapshot.live_workers
        )
        outcomes = CounterMetricFamily(
            "zimage_generations", "Generations by status and error code.", labels=["status", "code"]
        )
        for status, code, count in snapshot.outcomes:
            outcomes.add_metric([status, code], count)
        yield outcomes
        yield _histogram_family(
            "zimage_provider_latency_seconds", "The provider's answer time.", snapshot.provider_latency
        )
        yield _histogram_family(
            "zimage_queue_wait_seconds", "From queued to taken by a worker.", snapshot.queue_wait
        )


def _histogram_family(name: str, documentation: str, histogram: Histogram) -> HistogramMetricFamily:
    buckets = [(str(bound), count) for bound, count in histogram.buckets] + [("+Inf", histogram.count)]
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=histogram.sum_s)
