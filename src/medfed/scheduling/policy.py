"""Which queued task a node gets next (clauses 5.4.2.3d, 5.4.3.2b, 5.4.3.2d).

Nodes pull work. When node N asks:

1. **Capacity.** N gets nothing unless ``capacity - load - active(N) > 0``, where ``active``
   counts its assigned and running tasks: a busy node is never handed more than it can run.
2. **Eligibility.** A task bound to a node goes only to that node; a task that needs datasets
   goes only to a node holding every one of them; anything else goes to any node.
3. **Idle nodes first (load-aware).** While N already runs work, it leaves an unbound task
   to another live node that is completely idle (no active task, free capacity) and could
   run it; so remaining work spreads to idle nodes instead of piling onto busy ones.
   Work bound to N is never held back.
4. **Order.** Highest priority first; at equal priority a task bound to N before unbound
   work (only N can run it, anyone can run the rest); then the oldest.
"""

from __future__ import annotations

from medfed.scheduling.model import Candidate, ClaimView, NodeInfo


def free_slots(node: NodeInfo, active: int) -> float:
    return node.capacity - node.load - active


def can_run(node: NodeInfo, task: Candidate) -> bool:
    if task.bound_to is not None and task.bound_to != node.node_id:
        return False
    return task.needs <= set(node.datasets)


def rank(view: ClaimView) -> list[str]:
    """The task ids to offer ``view.node``, best first (empty when it has no free slot)."""
    node = view.node
    mine = view.own_active
    if free_slots(node, mine) <= 0:
        return []
    eligible = [t for t in view.candidates if can_run(node, t)]
    if mine > 0:
        idle = [
            n
            for n in view.live_nodes
            if n.node_id != node.node_id and view.active.get(n.node_id, 0) == 0 and free_slots(n, 0) > 0
        ]
        if idle:
            eligible = [
                t for t in eligible if t.bound_to == node.node_id or not any(can_run(n, t) for n in idle)
            ]
    # Candidates arrive highest priority first, then oldest; the sort is stable.
    eligible.sort(key=lambda t: (-t.priority, t.bound_to != node.node_id))
    return [t.task_id for t in eligible]
