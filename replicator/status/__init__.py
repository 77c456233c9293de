"""The replicator's status page: what it collects (`collect`), the view of it (`view`, pure),
its HTML (`html`, pure) and the HTTP side with its cache (`page`)."""
