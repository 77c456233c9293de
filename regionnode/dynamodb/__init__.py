"""The DynamoDB-compatible HTTP door of a node: DynamoDB's JSON 1.0 protocol
(`X-Amz-Target: DynamoDB_20120810.<Operation>` and `DynamoDBStreams_20120810.<Operation>`),
so boto3, aws-cli and other SDKs work unchanged against any region.

Modules, one concept each: `convert` (DynamoDB JSON <-> items), `errors` (DynamoDB's error
shapes and the mapping from the node's exceptions), `params` (checking request members),
`items` (the data plane, over `regionnode.item_ops`), `tables` (DescribeTable, ListTables,
and the control-plane operations still to come), `streams` (the Streams API), `iterators`
(signed shard iterators and sequence numbers), `auth` (SigV4 and access keys), `app` (the
ASGI callable: routing, limits, responses) and `door` (the listener, owned by the node).
"""
