"""Live status changes of generations, and other news about a public id, from PostgreSQL's LISTEN/NOTIFY.

A trigger on the generations table announces every status change on CHANNEL (payload "public_id status"),
whichever process made it: the web (queued, cancelled), a worker (running, finished) or the recovery of a dead
worker. Other rooms announce what changed about an image or one of their own things (a board) on
ACTIVITY_CHANNEL (payload "public_id kind", sent with `activity_announce`): the same stream carries both to the
pages that follow them. Each web process's event loop keeps one listening connection, shared by every open page
and waiting API call, and reconnects by itself. A notification can still be missed while it reconnects: waiters
re-read the database now and then, and pages keep polling as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import psycopg
from asgiref.sync import sync_to_async
from django.db import connection
from procrastinate.contrib.django.utils import connector_params

logger = logging.getLogger(__name__)

CHANNEL = "generation_events"
ACTIVITY_CHANNEL = "activity_events"
# How long a new subscriber waits for the listening connection before relying on re-reads alone.
CONNECT_WAIT_S = 2.0
RECONNECT_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class GenerationEvent:
    public_id: str
    status: str


@dataclass(frozen=True, slots=True)
class ActivityEvent:
    """Something about `public_id` changed: `kind` says what ("comments", "ratings", "board"…), and `about`
    names the thing within it that changed, if one did (an image of a board)."""

    public_id: str
    kind: str
    about: str = ""


type Event = GenerationEvent | ActivityEvent


class _Listener:
    """One LISTEN connection per event loop, fanning notifications out to the subscribers of each public id
    (status changes to every subscriber, activity only to those that asked for it)."""

    def __init__(self) -> None:
        self.subscribers: dict[str, dict[str, set[asyncio.Queue[Event]]]] = {
            CHANNEL: {},
            ACTIVITY_CHANNEL: {},
        }
        self.listening = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._listen(), name="generation events")

    def subscribe(self, public_ids: Iterable[str], channels: tuple[str, ...]) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        for channel in channels:
            for public_id in public_ids:
                self.subscribers[channel].setdefault(public_id, set()).add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event], public_ids: Iterable[str]) -> None:
        for subscribers in self.subscribers.values():
            for public_id in public_ids:
                queues = subscribers.get(public_id, set())
                queues.discard(queue)
                if not queues:
                    subscribers.pop(public_id, None)

    async def _listen(self) -> None:
        while True:
            try:
                params = await sync_to_async(connector_params)()
                async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as listening:
                    for channel in self.subscribers:
                        await listening.execute(f"LISTEN {channel}")
                    self.listening.set()
                    async for notify in listening.notifies():
                        self._dispatch(notify.channel, notify.payload)
            except Exception as err:  # whatever broke the connection, listen again: pages rely on it
                logger.warning("generation events: listening connection lost (%s), reconnecting", err)
            finally:
                self.listening.clear()
            await asyncio.sleep(RECONNECT_DELAY_S)

    def _dispatch(self, channel: str, payload: str) -> None:
        public_id, _, detail = payload.partition(" ")
        if channel == CHANNEL:
            event: Event = GenerationEvent(public_id=public_id, status=detail)
        else:
            kind, _, about = detail.partition(" ")
            event = ActivityEvent(public_id=public_id, kind=kind, about=about)
        for queue in self.subscribers.get(channel, {}).get(public_id, ()):
            queue.put_nowait(event)


_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Listener] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def generation_events(
    public_ids: Iterable[str], *, activity: bool = False
) -> AsyncIterator[asyncio.Queue[Event]]:
    """A queue of the status changes of these generations (and, with `activity`, the activity announced about
    these public ids), from now until the block ends.

    Subscribe first, then read the current state: a change in between is in the queue, never lost.
    """
    public_ids = list(public_ids)
    loop = asyncio.get_running_loop()
    if loop not in _listeners:
        _listeners[loop] = _Listener()
    listener = _listeners[loop]
    queue = listener.subscribe(public_ids, (CHANNEL, ACTIVITY_CHANNEL) if activity else (CHANNEL,))
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listener.listening.wait(), timeout=CONNECT_WAIT_S)
        yield queue
    finally:
        listener.unsubscribe(queue, public_ids)


def activity_announce(*, public_ids: Iterable[str], kind: str, about: str = "") -> None:
    """Tell the pages that follow these public ids that their `kind` changed (`about`: which thing in them),
    once the caller's transaction commits (PostgreSQL delivers notifications then, and drops them on a
    rollback)."""
    if " " in kind or " " in about:
        raise ValueError("An activity's kind, and what it is about, are one word each.")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_notify(%s, rtrim(public_id || ' ' || %s || ' ' || %s)) FROM unnest(%s::text[]) AS public_id",
            [ACTIVITY_CHANNEL, kind, about, list(dict.fromkeys(public_ids))],
        )
