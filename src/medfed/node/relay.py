"""A party's loop in a relayed multi-party protocol: messages in, messages out, until the end.

The protocol itself is a sans-IO state machine (``RelayParty``); this loop only moves
frames between it and the dispatcher, and reports a failure upstream as a coded
NodeFailure so every other party learns why the study stopped.
"""

from __future__ import annotations

import logging
from typing import Protocol

from medfed.core import serde
from medfed.core.messages import Ack, NodeFailure, RelayMessage, StudyEnd
from medfed.errors import MedfedError, ProtocolError, TransportError
from medfed.node.runner import NodeChannel

log = logging.getLogger("medfed.node")


class RelayParty(Protocol):
    name: str
    study_id: str

    def start(self, body: dict[str, object]) -> list[RelayMessage]: ...

    def receive(self, message: RelayMessage) -> list[RelayMessage]: ...


def run_relay_party(party: RelayParty, channel: NodeChannel) -> StudyEnd:
    """Serve the protocol until the dispatcher ends the study; returns how it ended."""
    for frame in channel.tasks():
        message = serde.decode(frame)
        if isinstance(message, StudyEnd):
            return message
        if not isinstance(message, RelayMessage):
            raise ProtocolError(f"unexpected {type(message).__name__} in a relayed protocol")
        try:
            if message.kind == "start" and message.node == "dispatcher":
                outgoing = party.start(message.body)
            else:
                outgoing = party.receive(message)
        except MedfedError as exc:
            log.error("%s: protocol step %s failed: %s", party.name, message.kind, exc)
            failure = NodeFailure(party.study_id, message.round, party.name, exc.code, str(exc))
            _submit(channel, serde.encode(failure))
            continue
        for out in outgoing:
            _submit(channel, serde.encode(out))
    raise TransportError("the dispatcher closed the connection before the study ended")


def _submit(channel: NodeChannel, frame: bytes) -> None:
    try:
        ack = serde.decode(channel.submit(frame))
    except TransportError as exc:
        log.warning("submission failed (%s); reading on", exc)
        return
    if isinstance(ack, Ack) and not ack.accepted:
        log.warning("dispatcher refused a protocol message: %s", ack.message)
