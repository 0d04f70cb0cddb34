"""`/metrics` in Prometheus's text format: queue depth, running generations, live workers, outcomes by code and
what they cost, provider and queue-wait latency histograms, and the provider's pace (429s and waits). Everything is counted from the database, so any web instance answers
for the whole cluster, and the counters survive restarts.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from generations.selectors import Histogram, OperationsSnapshot, ProviderPaceFigures, operations_snapshot


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
        spend = CounterMetricFamily(
            "zimage_spend",
            f"What generations cost ({settings.PRICE_CURRENCY}, at the prices they were queued at), by status and "
            "error code; unfinished ones at their price.",
            labels=["status", "code"],
        )
        may_be_billed = CounterMetricFamily(
            "zimage_may_be_billed",
            "Generations the provider may have billed without an image (timeouts, interruptions).",
            labels=["status", "code"],
        )
        for status, code, count, cost, maybe in snapshot.outcomes:
            outcomes.add_metric([status, code], count)
            spend.add_metric([status, code], float(cost))
            may_be_billed.add_metric([status, code], maybe)
        yield outcomes
        yield spend
        yield may_be_billed
        yield from _pace_families(snapshot.pace)
        yield _histogram_family(
            "zimage_provider_latency_seconds", "The provider's answer time.", snapshot.provider_latency
        )
        yield _histogram_family(
            "zimage_queue_wait_seconds", "From queued to taken by a worker.", snapshot.queue_wait
        )


def _pace_families(pace: ProviderPaceFigures) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    yield GaugeMetricFamily(
        "zimage_provider_pace_concurrency",
        "Provider requests the cluster may have in flight now.",
        value=pace.concurrency,
    )
    yield GaugeMetricFamily(
        "zimage_provider_pace_per_minute",
        "Provider requests the cluster may send a minute now.",
        value=pace.per_minute,
    )
    yield GaugeMetricFamily(
        "zimage_provider_pace_held_seconds",
        "Seconds until a 429's hold on every request ends.",
        value=pace.held_s,
    )
    yield GaugeMetricFamily("zimage_provider_in_flight", "Provider requests in flight.", value=pace.in_flight)
    yield GaugeMetricFamily(
        "zimage_provider_sent_last_minute",
        "Provider requests sent in the last minute.",
        value=pace.sent_last_minute,
    )
    yield GaugeMetricFamily(
        "zimage_provider_rate_limit_waiting",
        "Generations a 429 sent back to the queue, waiting for their next try.",
        value=pace.waiting_for_rate_limit,
    )
    yield CounterMetricFamily(
        "zimage_provider_rate_limited",
        "429s the provider answered (not billed).",
        value=pace.rate_limited_total,
    )
    yield CounterMetricFamily(
        "zimage_provider_rate_limit_wait_seconds",
        "Seconds the provider's 429s asked generations to wait, in all.",
        value=pace.rate_limit_wait_s_total,
    )


def _histogram_family(name: str, documentation: str, histogram: Histogram) -> HistogramMetricFamily:
    buckets = [(str(bound), count) for bound, count in histogram.buckets] + [("+Inf", histogram.count)]
    return HistogramMetricFamily(name, documentation, buckets=buckets, sum_value=histogram.sum_s)
