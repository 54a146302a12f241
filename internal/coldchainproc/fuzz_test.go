package coldchainproc

import (
	"encoding/json"
	"testing"
)

// FuzzRecordBodies feeds arbitrary JSON to the request bodies of the record types and their
// validation (what the API does with outside input): never a panic; a body that validates
// still validates after a JSON round trip, and a mapping study that validates has statistics.
func FuzzRecordBodies(f *testing.F) {
	seeds := []string{
		`{"id":"u1","site":"s1","name":"Fridge","kind":"fridge","limits":{"low_c":2,"high_c":8,"hysteresis_c":0.3,"interval_s":300},"sensors":[{"device":"d1"}]}`,
		`{"id":"p","name":"P","limits":{"low_c":2,"high_c":8},"budget_rules":[{"id":"A","kind":"cumulative-in-band","band":{"lo_c":8,"hi_c":25,"lo_open":true},"limit_s":259200}]}`,
		`{"id":"m","unit":"u","interval_s":900,"limits":{"low_c":2,"high_c":8},"loggers":[{"label":"S1","readings":[{"at":"2025-01-01T00:00:00Z","c":5},{"at":"2025-01-01T00:15:00Z","c":9}]}]}`,
		`{"id":"sh","lane":{"origin":"a","destination":"b"},"limits":{"low_c":2,"high_c":8,"interval_s":60},"loggers":[{"device":"t"}]}`,
		`{"id":"s","name":"S","timezone":"Europe/Berlin","lat":91}`,
		`{"id":"l","number":"N","product":"p","quantity":-1,"expiry":"2027-13-01"}`,
		`{"limits":{"low_c":"NaN"}}`, `[]`, `{"id":""}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		type validator interface{ validate() error }
		try := func(v validator) {
			if json.Unmarshal(b, v) != nil || v.validate() != nil {
				return
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%T: encode a valid record: %v", v, err)
			}
			fresh := newLike(v)
			if err := json.Unmarshal(again, fresh); err != nil {
				t.Fatalf("%T: decode own encoding: %v", v, err)
			}
			if err := fresh.validate(); err != nil {
				t.Fatalf("%T: valid record invalid after a round trip: %v", v, err)
			}
			if m, ok := v.(*MappingStudy); ok {
				if _, err := MappingStatistics(*m); err != nil {
					t.Fatalf("statistics of a valid study: %v", err)
				}
			}
		}
		try(new(Site))
		try(new(Unit))
		try(new(Product))
		try(new(Lot))
		try(new(Shipment))
		try(new(MappingStudy))
	})
}

func newLike(v interface{ validate() error }) interface{ validate() error } {
	switch v.(type) {
	case *Site:
		return new(Site)
	case *Unit:
		return new(Unit)
	case *Product:
		return new(Product)
	case *Lot:
		return new(Lot)
	case *Shipment:
		return new(Shipment)
	}
	return new(MappingStudy)
}
