package senml

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"
)

// checkRoundTrip re-encodes accepted records in JSON and CBOR and checks that both decode to
// the same records (JSON → resolved == CBOR → resolved), up to TimeRelative and a microsecond.
func checkRoundTrip(t *testing.T, recs []Record) {
	t.Helper()
	for _, r := range recs {
		if r.Time.Unix() < relativeLimit {
			return // an absolute time this early would read back as relative
		}
	}
	for _, enc := range []struct {
		name string
		b    []byte
		dec  func([]byte, time.Time) ([]Record, error)
	}{{"json", EncodeJSON(recs), DecodeJSON}, {"cbor", EncodeCBOR(recs), DecodeCBOR}} {
		if len(enc.b) > MaxPackBytes {
			continue // resolving can make a pack larger than its limit
		}
		again, err := enc.dec(enc.b, exampleNow)
		if err != nil {
			t.Fatalf("%s round trip: %v\n%q", enc.name, err, enc.b)
		}
		if err := sameRecords(again, recs, time.Microsecond, true); err != nil {
			t.Fatalf("%s round trip changed the records: %v", enc.name, err)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range fixtures(f, "*.json") {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, err := DecodeJSON(in, exampleNow)
		valid := json.Valid(in)
		if err != nil {
			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("error without a position: %v", err)
			}
			if e.syntax && valid && utf8.Valid(in) {
				t.Fatalf("valid JSON reported as malformed: %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted input that encoding/json rejects: %q", in)
		}
		checkRoundTrip(t, recs)
	})
}

func FuzzDecodeCBOR(f *testing.F) {
	for _, seed := range fixtures(f, "*.hex") {
		f.Add(seed)
	}
	for _, seed := range fixtures(f, "*.json") { // the same packs in CBOR
		if recs, err := DecodeJSON(seed, exampleNow); err == nil {
			f.Add(EncodeCBOR(recs))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		recs, err := DecodeCBOR(in, exampleNow)
		if err != nil {
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		checkRoundTrip(t, recs)
	})
}
