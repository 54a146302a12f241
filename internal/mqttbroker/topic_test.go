package mqttbroker

import "testing"

func TestClassifyPublish(t *testing.T) {
	tests := []struct {
		topic string
		want  publishKind
	}{
		{"vigil/v1/bed4-mon/senml", pubSenML},
		{"vigil/v1/bed4-mon/senml-cbor", pubSenMLCBOR},
		{"vigil/v1/bed4-mon/ble/2a35", pubBLE},
		{"vigil/v1/bed4-mon/status", pubStatus},
		{"vigil/v1/bed4-mon/ble/", pubUnknownLeaf},
		{"vigil/v1/bed4-mon/ble/2a35/x", pubUnknownLeaf},
		{"vigil/v1/bed4-mon/senml/x", pubUnknownLeaf},
		{"vigil/v1/bed4-mon/cmd/x", pubUnknownLeaf},
		{"vigil/v1/bed4-mon-2/senml", pubForeign},
		{"vigil/v1/bed4/senml", pubForeign},
		{"vigil/v1/fridge-7/senml", pubForeign},
		{"vigil/v2/bed4-mon/senml", pubForeign},
		{"vigil/v1/t/acme/senml", pubForeign},
	}
	for _, tt := range tests {
		if got := classifyPublish("bed4-mon", tt.topic); got != tt.want {
			t.Errorf("classifyPublish(bed4-mon, %q) = %d, want %d", tt.topic, got, tt.want)
		}
	}
}

func TestFilterWithin(t *testing.T) {
	dev, ten := deviceCommandPrefix("bed4-mon"), tenantPrefix("acme")
	tests := []struct {
		filter, prefix string
		want           bool
	}{
		{"vigil/v1/bed4-mon/cmd/#", dev, true},
		{"vigil/v1/bed4-mon/cmd/+", dev, true},
		{"vigil/v1/bed4-mon/cmd", dev, true},
		{"vigil/v1/bed4-mon/cmd/ota/start", dev, true},
		{"$share/g/vigil/v1/bed4-mon/cmd/#", dev, true},
		{"vigil/v1/bed4-mon/#", dev, false},
		{"vigil/v1/bed4-mon/+/x", dev, false},
		{"vigil/v1/+/cmd/#", dev, false},
		{"vigil/v1/bed4-mon-2/cmd/#", dev, false},
		{"vigil/v1/bed4-mon/cmdx", dev, false},
		{"#", dev, false},
		{"$share/g", dev, false},
		{"vigil/v1/t/acme/#", ten, true},
		{"vigil/v1/t/acme/devices/+/connectivity", ten, true},
		{"vigil/v1/t/acme2/#", ten, false},
		{"vigil/v1/t/+/#", ten, false},
		{"vigil/v1/t/#", ten, false},
	}
	for _, tt := range tests {
		if got := filterWithin(tt.filter, tt.prefix); got != tt.want {
			t.Errorf("filterWithin(%q, %q) = %v, want %v", tt.filter, tt.prefix, got, tt.want)
		}
	}
}

func TestValidDeviceID(t *testing.T) {
	for id, want := range map[string]bool{"bed4-mon": true, "a:b.c_d": true, "t": false, "": false, "a/b": false, "a+": false, "a#": false, "$x": false} {
		if got := validDeviceID(id); got != want {
			t.Errorf("validDeviceID(%q) = %v, want %v", id, got, want)
		}
	}
}
