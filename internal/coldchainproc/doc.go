// Package coldchainproc runs Vigil's cold chain (shared/specs/cold-chain.md) against the log,
// the store, the alarm engine and the audit trail: the records (sites, storage units, products,
// lots, shipments, temperature-mapping studies), the "coldchain" log consumer that turns
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
// A log message is acknowledged only after its alarm conditions were applied and its batch —
// changed excursions, ledger lines, lot budgets, live status and the sources' states with a
// watermark per sensor — was committed in one transaction. A redelivered message finds its
// readings at or below the watermark and is skipped, so nothing is counted twice; a message
// whose batch was not committed is processed again from the saved state and yields the same
// records (deterministic ids) and the same conditions (idempotent by key and onset). Readings
// older than a sensor's watermark (late, out of order) are counted in a metric and ignored.
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
