"""Generate Python code for the protos: `python scripts/gen_proto.py [OUTDIR]`.

The virtual include paths make the generated modules import each other as
`meridian.pb.node_pb2`, `meridian.pb.client_pb2_grpc` and so on, so no sys.path tricks are
needed.
"""

import pathlib
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROTOS = ("node", "client", "replication", "replicator")  # proto/meridian/<name>/v1/<name>.proto


def generate(out: pathlib.Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        *(f"-Imeridian/pb={ROOT / 'proto/meridian' / name / 'v1'}" for name in PROTOS),
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(f"meridian/pb/{name}.proto" for name in PROTOS),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT)
