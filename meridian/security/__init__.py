"""Security primitives: certificates, peer identities, TLS credentials, access keys, signatures.

Each module is self-contained and imports nothing from the daemons:

- ``identity``: who a certificate speaks for (``meridian://<group>/region/<name>``) and the
  check that a peer's claimed region matches its certificate.
- ``certs``: a group CA, region, operator and client certificates, and the files on disk.
- ``tls``: gRPC server credentials that reload from disk, channel credentials for clients.
- ``access``: access keys, their parsing and the authorization decision.
- ``sigv4``: AWS Signature Version 4 verification for the DynamoDB-compatible HTTP door.
- ``grpc_auth``: access-key authentication of gRPC calls (client interceptor, server check).
"""
