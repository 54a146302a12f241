package mqttbroker

import "strings"

// Topic namespace (docs/mqtt.md):
//
//	vigil/v1/{device}/senml              device → Vigil, SenML JSON (sniffed, senml.md §1)
//	vigil/v1/{device}/senml-cbor         device → Vigil, SenML CBOR (sniffed)
//	vigil/v1/{device}/ble/{char}         device → Vigil, raw GATT bytes (refused until decoders exist)
//	vigil/v1/{device}/status             device → Vigil, will/status messages (accepted, not relayed)
//	vigil/v1/{device}/cmd/#              Vigil → device
//	vigil/v1/t/{tenant}/#                Vigil → users of the tenant (events, connectivity)
const (
	topicRoot     = "vigil/v1/"
	tenantSegment = "t" // vigil/v1/t/{tenant}/...; reserved: no device may be called "t" on MQTT
)

// publishKind is what a device's publish topic asks for.
type publishKind int

const (
	pubForeign     publishKind = iota // outside the device's own vigil/v1/{device}/ tree
	pubSenML                          // .../senml
	pubSenMLCBOR                      // .../senml-cbor
	pubBLE                            // .../ble/{characteristic}
	pubStatus                         // .../status
	pubUnknownLeaf                    // under the device's tree, but no such topic
)

// classifyPublish says what device publishing on topic asks for.
func classifyPublish(device, topic string) publishKind {
	rest, ok := strings.CutPrefix(topic, topicRoot+device+"/")
	if !ok || device == "" {
		return pubForeign
	}
	switch {
	case rest == "senml":
		return pubSenML
	case rest == "senml-cbor":
		return pubSenMLCBOR
	case rest == "status":
		return pubStatus
	case strings.HasPrefix(rest, "ble/") && len(rest) > len("ble/") && !strings.Contains(rest[len("ble/"):], "/"):
		return pubBLE
	}
	return pubUnknownLeaf
}

// filterWithin reports whether every topic that filter can match lies under prefix (a topic
// prefix of literal levels ending in "/", such as "vigil/v1/bed4-mon/cmd/"), or is its
// parent level itself (which "prefix#" also matches). Shared ($share/...) filters are checked
// on their topic part. Wildcards inside the prefix's levels reach beyond it and are refused.
func filterWithin(filter, prefix string) bool {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		_, f, found := strings.Cut(rest, "/")
		if !found {
			return false
		}
		filter = f
	}
	if strings.HasPrefix(filter, prefix) {
		return true
	}
	// "vigil/v1/bed4-mon/cmd" (the parent level) is inside too: nothing is published there.
	return filter == strings.TrimSuffix(prefix, "/")
}

// deviceCommandPrefix is the only subtree a device may subscribe to.
func deviceCommandPrefix(device string) string { return topicRoot + device + "/cmd/" }

// tenantPrefix is the only subtree a user of tenant may subscribe to.
func tenantPrefix(tenant string) string { return topicRoot + tenantSegment + "/" + tenant + "/" }

// ConnectivityTopic is where the broker publishes (retained) a device's connectivity for the
// users of its tenant.
func ConnectivityTopic(tenant, device string) string {
	return tenantPrefix(tenant) + "devices/" + device + "/connectivity"
}

// validDeviceID reports whether id can be used as one topic level and is not reserved.
func validDeviceID(id string) bool {
	return id != "" && id != tenantSegment && !strings.ContainsAny(id, "/+#$\x00")
}

// AlarmTopic is where alarm notifications of a tenant are published for its integrations
// (users of the tenant may subscribe; QoS 1, not retained).
func AlarmTopic(tenant string) string { return tenantPrefix(tenant) + "alarms" }
