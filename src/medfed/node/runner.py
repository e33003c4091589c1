"""The node's loop: take each task frame, answer it, until the study ends."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Protocol

from medfed.authz.study_use import task_of
from medfed.core import serde
from medfed.core.messages import Ack, NodeFailure, SecAggMessage, StudyEnd, TrainTask
from medfed.errors import MedfedError, ProtocolError, TransportError
from medfed.node.worker import NodeWorker

log = logging.getLogger("medfed.node")


class NodeChannel(Protocol):
    """The one transport interface a node needs (gRPC, or a recording wrapper in tests)."""

    def tasks(self) -> Iterator[bytes]: ...

    def submit(self, frame: bytes) -> bytes: ...


def respond(worker: NodeWorker, frame: bytes) -> bytes | StudyEnd:
    """The reply frame to one frame from the dispatcher, or the StudyEnd that stops the loop.

    A failure to train is reported upstream as a coded NodeFailure rather than
    breaking the connection, so the dispatcher can carry on with the others.
    """
    message = serde.decode(frame)
    if isinstance(message, StudyEnd):
        return message
    if not isinstance(message, (TrainTask, SecAggMessage)):
        raise ProtocolError(f"unexpected {type(message).__name__} from the dispatcher")
    try:
        if isinstance(message, SecAggMessage):
            return serde.encode(worker.handle_secure(message))
        return serde.encode(worker.handle(message))
    except MedfedError as exc:
        log.error("round %d failed at %s: %s", message.round, worker.name, exc)
        return serde.encode(
            NodeFailure(message.study_id, message.round, worker.name, exc.code, str(exc))
        )


def _log_delivered(worker: NodeWorker, frame: bytes, *, confirmed: bool = True) -> None:
    """Log an update sent to the dispatcher, with the digest its ledger entry will hold;
    ``confirmed=False`` when the connection broke before it was acknowledged."""
    if worker.oplog is None:
        return
    header = serde.header_of(frame)
    if header.get("type") != "node_update":
        return
    worker.oplog.record_update_sent(
        # Mirrors medfed.dispatcher.evidence.update_digest, in the study's suite.
        task_of(header["study_id"]), round_number=int(header["round"]),
        update_digest=worker.oplog.suite.digest(frame).hex(), confirmed=confirmed,
    )


def run_node(worker: NodeWorker, channel: NodeChannel) -> StudyEnd:
    """Serve tasks until the dispatcher ends the study; returns how it ended."""
    for frame in channel.tasks():
        outcome = respond(worker, frame)
        if isinstance(outcome, StudyEnd):
            return outcome
        try:
            ack = serde.decode(channel.submit(outcome))
        except TransportError as exc:
            # The study may have just ended: its StudyEnd is still on the stream. Whether the update
            # arrived is unknown (the dispatcher may have recorded it, then crashed before the
            # acknowledgement): the log says so rather than claim either.
            log.warning("submission failed (%s); reading on", exc)
            _log_delivered(worker, outcome, confirmed=False)
            continue
        _log_delivered(worker, outcome)
        if isinstance(ack, Ack) and not ack.accepted:
            log.warning("dispatcher refused our update: %s", ack.message)
    raise TransportError("the dispatcher closed the connection before the study ended")
