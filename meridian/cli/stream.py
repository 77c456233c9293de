"""`meridian stream tail`: a table's change records as JSON lines, live."""

from __future__ import annotations

import argparse

from meridian.cli.output import emit
from meridian.cli.target import NodeConnection, target_of
from meridian.daemon.exit_codes import EXIT_OK
from meridian.model import render
from meridian.model.render import to_json
from meridian.pb import node_pb2 as pb


def _after_sequence(node: NodeConnection, table: str, position: str | int) -> int:
    """The Subscribe position (records after it are sent) for a --from value."""
    if isinstance(position, int):
        return max(position - 1, 0)
    stream = node.call("DescribeStream", pb.DescribeStreamRequest(table=table))
    if position == "latest":
        return int(stream.head_sequence_number)
    return max(int(stream.trim_sequence_number) - 1, 0)


def cmd_stream_tail(args: argparse.Namespace) -> int:
    """Print records until --count of them or Ctrl-C (the normal way to stop: exit 0)."""
    target = target_of(args)
    try:
        with NodeConnection(target) as node:
            request = pb.SubscribeRequest(
                table=target.table,
                after_sequence_number=_after_sequence(node, target.table, args.start),
                origin=args.origin or "",
            )
            shown = 0
            records = node.subscribe(request)
            try:
                for record in records:
                    emit(to_json(render.stream_record_json(record, args.typed)))
                    shown += 1
                    if args.count is not None and shown >= args.count:
                        break
            finally:
                records.close()
    except KeyboardInterrupt:
        pass
    return EXIT_OK
