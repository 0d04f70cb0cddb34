"""Live status changes of generations, and other things open pages follow, from PostgreSQL's LISTEN/NOTIFY.

A trigger on the generations table announces every status change on CHANNEL (payload "public_id status"),
whichever process made it: the web (queued, cancelled), a worker (running, finished) or the recovery of a dead
worker. Other rooms announce their own events on TOPIC_CHANNEL (payload "topic kind [about]", e.g. a judging
round's public id and "vote", or a board's and "ratings" about one of its images) through `event_announce`;
subscribers name topics as they name generations. Each web
process's event loop keeps one listening connection, shared by every open page and waiting API call, and
reconnects by itself. A notification can still be missed while it reconnects: waiters re-read the
database now and then, and pages keep polling as a fallback.
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
from django.db import connection as database
from procrastinate.contrib.django.utils import connector_params

logger = logging.getLogger(__name__)

CHANNEL = "generation_events"
TOPIC_CHANNEL = "topic_events"
# How long a new subscriber waits for the listening connection before relying on re-reads alone.
CONNECT_WAIT_S = 2.0
RECONNECT_DELAY_S = 1.0


@dataclass(frozen=True, slots=True)
class GenerationEvent:
    public_id: str  # a generation's, or a topic's
    status: str
    kind: str = "status"  # or what a topic announced
    about: str = ""  # what within the topic it concerns, if one thing does (an image of a board)


def event_announce(*, topic: str, kind: str, about: str = "") -> None:
    """Tell the pages following `topic` that `kind` happened (to `about`, if said), once the current transaction
    commits (and never, if it rolls back)."""
    if " " in kind or " " in about:
        raise ValueError("An event's kind, and what it is about, are one word each.")
    with database.cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [TOPIC_CHANNEL, f"{topic} {kind} {about}".rstrip()])


class _Listener:
    """One LISTEN connection per event loop, fanning notifications out to the subscribers of each public id."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[asyncio.Queue[GenerationEvent]]] = {}
        self.listening = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._listen(), name="generation events")

    def subscribe(self, public_ids: Iterable[str]) -> asyncio.Queue[GenerationEvent]:
        queue: asyncio.Queue[GenerationEvent] = asyncio.Queue()
        for public_id in public_ids:
            self.subscribers.setdefault(public_id, set()).add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[GenerationEvent], public_ids: Iterable[str]) -> None:
        for public_id in public_ids:
            queues = self.subscribers.get(public_id, set())
            queues.discard(queue)
            if not queues:
                self.subscribers.pop(public_id, None)

    async def _listen(self) -> None:
        while True:
            try:
                params = await sync_to_async(connector_params)()
                async with await psycopg.AsyncConnection.connect(**params, autocommit=True) as connection:
                    await connection.execute(f"LISTEN {CHANNEL}; LISTEN {TOPIC_CHANNEL}")
                    self.listening.set()
                    async for notify in connection.notifies():
                        self._dispatch(notify.channel, notify.payload)
            except Exception as err:  # whatever broke the connection, listen again: pages rely on it
                logger.warning("generation events: listening connection lost (%s), reconnecting", err)
            finally:
                self.listening.clear()
            await asyncio.sleep(RECONNECT_DELAY_S)

    def _dispatch(self, channel: str, payload: str) -> None:
        public_id, _, status = payload.partition(" ")
        if channel == CHANNEL:
            event = GenerationEvent(public_id=public_id, status=status)
        else:
            kind, _, about = status.partition(" ")
            event = GenerationEvent(public_id=public_id, status=kind, kind=kind, about=about)
        for queue in self.subscribers.get(public_id, ()):
            queue.put_nowait(event)


_listeners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Listener] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def generation_events(public_ids: Iterable[str]) -> AsyncIterator[asyncio.Queue[GenerationEvent]]:
    """A queue of the status changes of these generations, from now until the block ends.

    Subscribe first, then read the current state: a change in between is in the queue, never lost.
    """
    public_ids = list(public_ids)
    loop = asyncio.get_running_loop()
    if loop not in _listeners:
        _listeners[loop] = _Listener()
    listener = _listeners[loop]
    queue = listener.subscribe(public_ids)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listener.listening.wait(), timeout=CONNECT_WAIT_S)
        yield queue
    finally:
        listener.unsubscribe(queue, public_ids)
