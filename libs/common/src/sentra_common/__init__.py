"""Cross-cutting code shared by every Sentra service: configuration, logging, errors,
gRPC bootstrap, the caller's principal, NATS JetStream helpers, metrics, tracing and
the SQL data layer."""
