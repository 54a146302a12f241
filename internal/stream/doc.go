// Package stream is Vigil's log: the NATS JetStream stream READINGS that every accepted
// reading is appended to before the device is acknowledged, and the store writer that copies
// the log into the query store.
//
// Open either starts an embedded nats-server (JetStream on a local directory, fsync before every
// acknowledgement: the server's SyncAlways option, "sync_interval: always" in a config file) or
// connects to an external NATS JetStream server, then creates or updates the stream. Subjects
// are <prefix>.<tenant>.<partition>; the partition is a stable hash of the device id, so one
// device's readings stay in order.
//
// # Group commit
//
// Append blocks until the readings are durably in the log. Each subject has at most one publish
// in flight; packs that arrive for a subject while its publish is in flight wait, and all of them
// go out together as one JetStream message when that publish is acknowledged. An idle subject
// publishes a pack at once; under load the groups grow by themselves, so one fsync covers many
// packs. Different subjects publish concurrently.
//
// Decision: a group is ONE JetStream message holding the readings of several packs (re-split
// by the consumers with DecodeGroup), not a JetStream atomic batch of one message per pack.
// The external servers we must support (nats-server 2.9.10) have no atomic batch publish, and a
// JetStream message is the unit the server writes and syncs, so one message per group means one
// fsync per group on every server version. The message id (Nats-Msg-Id, checked within the
// stream's duplicate window) is a hash of the readings' ids, so a retried group is stored once.
//
// # Store writer
//
// RunWriter reads the stream through the durable pull consumer "store-writer", coalesces the
// messages available into one InsertReadings call, and acknowledges them only after the insert
// returned. A failed insert is negatively acknowledged with a delay and redelivered; a message
// that cannot be decoded is logged, counted and terminated so that it never blocks the stream.
// Delivery is at least once: the store is idempotent by reading id.
//
// A Log is safe for concurrent use. Close it after every Append and RunWriter has returned.
package stream
