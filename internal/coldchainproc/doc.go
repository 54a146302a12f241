// Package coldchainproc runs Vigil's cold chain (shared/specs/cold-chain.md) against the log,
// the store, the alarm engine and the audit trail: the records (sites, storage units, products,
// lots, shipments, temperature-mapping studies), the log processor that turns
// readings into excursions, budget charges, live unit status, forecasts, door and geofence
// events and alarm conditions, QA release with Part 11 electronic signatures
// (shared/specs/part11.md), and the lot and shipment reports (PDF, CSV).
//
// The mathematics is package coldchain's and the signature logic package esign's; this package
// only feeds them and persists what they return. JSON shapes are documented in
// docs/coldchain.md.
//
// # Processing and replay
//
// Every reading is mapped to its monitoring source — a storage unit or a shipment — by the
// device (a unit's sensors and door device, a shipment's loggers) or, for a shipment that lists
// no logger, by the reading's subject being the shipment's id. Each source keeps, per sensor, an excursion
// detector for each direction, a budget charger, hourly MKT sums and the recent readings for the
// forecast; a shipment also keeps its geofences. Charges go to the lots in the source's custody
// at the time (a lot's budget belongs to the lot and so carries across units and shipment legs).
//
// The processor reads the log with an ordered consumer that acknowledges nothing (Log.Replay)
// from its checkpoint: the log sequence of the last message whose effects are committed. It
// processes messages into its live state and commits in batches (Config.FlushEvery, 100 ms;
// Config.MaxBatch, 1,000 messages): first the batch's alarm conditions are applied and its side
// effects (automatic quarantine, geofence transitions) run, then one transaction writes the
// changed excursions, ledger lines, lot budgets, live status and the sources' states with a
// watermark per sensor, together with the new checkpoint. After a crash, or a failed commit
// (the live state is then reset to the saved one), the log is replayed from the checkpoint:
// the replayed messages are processed again from the saved state and yield the same records
// (deterministic ids), ledger lines (inserted once) and conditions. A batch holds at most one
// alarm condition per alarm (dedup key) from different messages, so conditions applied before
// a crash and again by the replay change nothing in the alarm engine (see pending.add). A
// message found at or below a sensor's watermark is skipped, so nothing is counted twice;
// readings older than the watermark (late, out of order) are ignored. On its first start
// without a checkpoint the processor carries on after the old durable consumer "coldchain"
// (Consumer) and removes it once the first checkpoint is saved. docs/coldchain.md has the
// details.
//
// Vigil's decisions beyond the spec: budgets are charged from a source's first temperature
// sensor (the others still detect excursions); a gap is judged against the source's limits
// rather than each product's; the live 24-h MKT is kept at hour granularity (exact windows come
// from the stored readings); the forecast runs after three rising readings with a slope of at
// least 0.02 °C/min or while a door is open, and alarms when the predicted crossing is within an
// hour; alarm priority follows the highest product risk in the source.
//
// A Service is safe for concurrent use.
package coldchainproc
