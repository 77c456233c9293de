"""`meridian conflicts`: the recent last-writer-wins conflicts a node recorded."""

from __future__ import annotations

import argparse

from meridian.cli import output
from meridian.cli.output import emit
from meridian.cli.target import NodeConnection, target_of
from meridian.daemon.exit_codes import EXIT_OK
from meridian.model import render
from meridian.model.render import to_json
from meridian.pb import node_pb2 as pb


def cmd_conflicts(args: argparse.Namespace) -> int:
    target = target_of(args, table=False)
    with NodeConnection(target) as node:
        response = node.call("ListConflicts", pb.ListConflictsRequest(limit=args.limit or 0))
    conflicts = [render.conflict_json(conflict) for conflict in response.conflicts]
    if args.json:
        emit(to_json({"region": target.region, "conflicts": conflicts}))
        return EXIT_OK
    rows = [
        (
            c["table"],
            to_json(c["keys"]),
            render.version_text(conflict.winner),
            render.version_text(conflict.loser),
            ",".join(conflict.attributes) or "(item)",
            c["rule"],
            c["time"],
        )
        for c, conflict in zip(conflicts, response.conflicts, strict=True)
    ]
    emit(output.render_table(["TABLE", "KEYS", "WINNER", "LOSER", "LOST", "RULE", "TIME"], rows))
    return EXIT_OK
