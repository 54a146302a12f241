package mqttbroker

import (
	"fmt"

	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
)

// Rejection reasons of a publish, the "reason" label of vigil_mqtt_publishes_rejected_total,
// besides ingest's own (malformed, too_large, unsupported_media_type).
const (
	reasonNotAuthorized = "not_authorized"
	reasonUnsupported   = "unsupported_topic" // ble/{characteristic} until the decoders exist
	reasonUnknownTopic  = "unknown_topic"
	reasonUnavailable   = "log_unavailable"
)

type metrics struct {
	publishRejected   *prometheus.CounterVec // by protocol version and reason
	connectsRefused   *prometheus.CounterVec // by reason code
	subscribesRefused prometheus.Counter
	dropped           prometheus.Counter // messages for a client whose outbound queue was full
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		publishRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_mqtt_publishes_rejected_total",
			Help: "MQTT publishes not ingested, by protocol version (3.1.1 clients still get a PUBACK) and reason.",
		}, []string{"protocol", "reason"}),
		connectsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_mqtt_connects_refused_total",
			Help: "MQTT CONNECTs refused, by MQTT 5 reason code.",
		}, []string{"code"}),
		subscribesRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_mqtt_acl_denied_total",
			Help: "Subscription filters and deliveries refused by the topic ACL.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_mqtt_dropped_total",
			Help: "Messages not sent to a client because its outbound queue was full (a slow or stalled subscriber).",
		}),
	}
	reg.MustRegister(m.publishRejected, m.connectsRefused, m.subscribesRefused, m.dropped)
	return m
}

func reasonLabel(c packets.Code) string { return fmt.Sprintf("0x%02x", c.Code) }
