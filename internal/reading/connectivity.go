package reading

import "time"

// MetricConnected is the key of the connectivity readings Vigil appends for a device when its
// transport session (MQTT) opens or ends: Value 1 or 0, Kind Bool, Text one of the Conn*
// reasons. docs/mqtt.md describes them; alarms.md §8 DEVICE_OFFLINE is decided from them.
const MetricConnected = "connected"

// Why a connectivity reading was appended: its Text.
const (
	// ConnOpened: the session started (Value 1).
	ConnOpened = "connect"
	// ConnClosed: the device ended its session on purpose with a normal MQTT DISCONNECT
	// (Value 0). It is not "session lost": no DEVICE_OFFLINE follows.
	ConnClosed = "disconnect"
	// ConnLost: the session ended any other way (Value 0): the connection dropped, the
	// keep-alive expired, a protocol error, or the device asked for its will to be sent
	// (MQTT 5 reason 0x04). DEVICE_OFFLINE follows unless the device reconnects in time.
	ConnLost = "lost"
)

// Connectivity returns the connectivity reading of device at the server time at: connected
// or not and why (a Conn* reason). Measured and received are both at, so its ID, and with it
// the reading, is the same each time the same event is appended again.
func Connectivity(tenant, device, subject string, connected bool, why string, at time.Time) Reading {
	at = at.UTC()
	r := Reading{Tenant: tenant, Device: device, Subject: subject, Metric: MetricConnected, Kind: Bool,
		Text: why, Unit: "1", Measured: at, Received: at, ID: NewID(tenant, device, MetricConnected, at)}
	if connected {
		r.Value = 1
	}
	return r
}
