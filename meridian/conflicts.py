"""`meridian conflicts`: the recent last-writer-wins conflicts a node recorded."""

from __future__ import annotations

import argparse

from meridian import output
from meridian.errors import EXIT_OK
from meridian.output import emit, to_json
from meridian.target import NodeConnection, target_of
from regionnode.pb import node_pb2 as pb


def cmd_conflicts(args: argparse.Namespace) -> int:
    target = target_of(args, table=False)
    with NodeConnection(target) as node:
        response = node.call("ListConflicts", pb.ListConflictsRequest(limit=args.limit or 0))
    conflicts = [output.conflict_json(conflict) for conflict in response.conflicts]
    if args.json:
        emit(to_json({"region": target.region, "conflicts": conflicts}))
        return EXIT_OK
    rows = [
        (
            c["table"],
            to_json(c["keys"]),
            output.version_text(conflict.winner),
            output.version_text(conflict.loser),
            c["rule"],
            c["time"],
        )
        for c, conflict in zip(conflicts, response.conflicts, strict=True)
    ]
    emit(output.render_table(["TABLE", "KEYS", "WINNER", "LOSER", "RULE", "TIME"], rows))
    return EXIT_OK
