package stream

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// sampleReadings returns n valid readings of tenant's device, one second apart.
func sampleReadings(tenant, device string, n int, base time.Time) []reading.Reading {
	rs := make([]reading.Reading, n)
	for i := range rs {
		measured := base.Add(time.Duration(i) * time.Second).UTC()
		rs[i] = reading.Reading{
			ID:       reading.NewID(tenant, device, "heart_rate", measured),
			Tenant:   tenant,
			Device:   device,
			Subject:  "patient-7",
			Metric:   "heart_rate",
			Kind:     reading.Number,
			Value:    60 + float64(i%40),
			Unit:     "/min",
			Measured: measured,
			Received: measured.Add(150 * time.Millisecond),
		}
	}
	return rs
}

func TestGroupRoundTrip(t *testing.T) {
	base := time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)
	odd := []reading.Reading{
		{}, // every field zero, zero times included
		{
			ID: reading.ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, Tenant: "t-1", Device: "ble:ÄÖ",
			Subject: "", Metric: "urn:dev:x", Kind: reading.String, Text: "low battery\x00\xff", Unit: "",
			Measured: time.Unix(-1, 999999999).UTC(), Received: base, Sum: -2.5, HasSum: true,
			Flags: reading.TimeRelative | reading.Unmapped | reading.Flags(1<<31),
		},
		{Tenant: "t", Device: "d", Metric: "m", Kind: reading.Data, Text: string([]byte{0, 1, 2}),
			Value: math.Inf(-1), Measured: base, Received: base},
		{Tenant: "t", Device: "d", Metric: "m", Kind: reading.Bool, Value: 1, Measured: base, Received: base,
			HasSum: true, Sum: math.MaxFloat64},
	}
	tests := []struct {
		name string
		rs   []reading.Reading
	}{
		{"empty", []reading.Reading{}},
		{"one", sampleReadings("acme", "dev-1", 1, base)},
		{"pack of 50", sampleReadings("acme", "dev-1", 50, base)},
		{"odd values", odd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := EncodeGroup(nil, tt.rs)
			got, err := DecodeGroup(enc)
			if err != nil {
				t.Fatalf("DecodeGroup(EncodeGroup(rs)) error: %v", err)
			}
			if len(got) != len(tt.rs) {
				t.Fatalf("decoded %d readings, want %d", len(got), len(tt.rs))
			}
			for i := range got {
				if diff := readingDiff(got[i], tt.rs[i]); diff != "" {
					t.Errorf("reading %d: %s", i, diff)
				}
			}
		})
	}
}

// TestGroupHeaderAndBodies checks that a group assembled by Append (header + pack bodies)
// decodes as the concatenation of the packs.
func TestGroupHeaderAndBodies(t *testing.T) {
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	a := sampleReadings("acme", "dev-a", 3, base)
	b := sampleReadings("acme", "dev-b", 2, base)
	msg := appendReadings(appendReadings(groupHeader(nil, 5), a), b)
	got, err := DecodeGroup(msg)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]reading.Reading{}, a...), b...)
	if !bytes.Equal(msg, EncodeGroup(nil, want)) {
		t.Errorf("header + bodies differ from EncodeGroup of the concatenation")
	}
	for i := range want {
		if diff := readingDiff(got[i], want[i]); diff != "" {
			t.Errorf("reading %d: %s", i, diff)
		}
	}
}

func TestDecodeGroupErrors(t *testing.T) {
	good := EncodeGroup(nil, sampleReadings("acme", "dev-1", 2, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))
	// Offsets in the first reading: version 0, count 1, id 2..17, tenant length 18.
	const tenantAt = 18
	kindAt := tenantAt + 1 + len("acme") + 1 + len("dev-1") + 1 + len("patient-7") + 1 + len("heart_rate")
	firstLen := len(EncodeGroup(nil, sampleReadings("acme", "dev-1", 1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)))) - 2
	withByte := func(off int, bs ...byte) []byte {
		c := bytes.Clone(good)
		copy(c[off:], bs)
		return c
	}
	tests := []struct {
		name    string
		in      []byte
		offset  int
		reading int
		field   string
	}{
		{"empty", nil, 0, -1, "version"},
		{"version 2", withByte(0, 2), 0, -1, "version"},
		{"no count", []byte{1}, 1, -1, "count"},
		{"count beyond input", []byte{1, 100, 0}, 2, -1, "count"},
		{"truncated id", good[:2+firstLen+10], 2 + firstLen, 1, "id"},
		{"tenant longer than input", withByte(tenantAt, 0xff, 0x7f), tenantAt, 0, "tenant"},
		{"unknown kind", withByte(kindAt, 4), kindAt, 0, "kind"},
		{"unknown bits", withByte(kindAt+1, 2), kindAt + 1, 0, "bits"},
		{"cut in second reading", good[:len(good)-1], len(good) - 1, 1, "flags"},
		{"trailing byte", append(bytes.Clone(good), 0), len(good), -1, "end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeGroup(tt.in)
			de, ok := errors.AsType[*DecodeError](err)
			if !ok {
				t.Fatalf("DecodeGroup error = %v, want a *DecodeError", err)
			}
			if de.Offset != tt.offset || de.Reading != tt.reading || de.Field != tt.field {
				t.Errorf("DecodeGroup error at (offset %d, reading %d, field %s), want (%d, %d, %s): %v",
					de.Offset, de.Reading, de.Field, tt.offset, tt.reading, tt.field, err)
			}
		})
	}
}

func FuzzDecodeGroup(f *testing.F) {
	base := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	f.Add(EncodeGroup(nil, sampleReadings("acme", "dev-1", 3, base)))
	f.Add(EncodeGroup(nil, []reading.Reading{{HasSum: true, Kind: reading.Data, Text: "x"}}))
	f.Add(EncodeGroup(nil, nil))
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		rs, err := DecodeGroup(in)
		if err != nil {
			if _, ok := errors.AsType[*DecodeError](err); !ok {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		enc := EncodeGroup(nil, rs)
		again, err := DecodeGroup(enc)
		if err != nil {
			t.Fatalf("re-decoding an encoded group: %v", err)
		}
		if len(again) != len(rs) {
			t.Fatalf("round trip: %d readings, want %d", len(again), len(rs))
		}
		for i := range rs {
			if diff := readingDiff(again[i], rs[i]); diff != "" {
				t.Fatalf("round trip changed reading %d: %s", i, diff)
			}
		}
		if !bytes.Equal(EncodeGroup(nil, again), enc) {
			t.Fatalf("encoding is not stable")
		}
	})
}

// readingDiff describes how got differs from want ("" when equal), comparing floats by bits
// (NaN included) and times as instants.
func readingDiff(got, want reading.Reading) string {
	type field struct {
		name      string
		got, want any
	}
	for _, f := range []field{
		{"ID", got.ID, want.ID}, {"Tenant", got.Tenant, want.Tenant}, {"Device", got.Device, want.Device},
		{"Subject", got.Subject, want.Subject}, {"Metric", got.Metric, want.Metric}, {"Kind", got.Kind, want.Kind},
		{"Value", math.Float64bits(got.Value), math.Float64bits(want.Value)}, {"Text", got.Text, want.Text},
		{"Unit", got.Unit, want.Unit}, {"Sum", math.Float64bits(got.Sum), math.Float64bits(want.Sum)},
		{"HasSum", got.HasSum, want.HasSum}, {"Flags", got.Flags, want.Flags},
		{"Measured", got.Measured.Unix()*1e9 + int64(got.Measured.Nanosecond()), want.Measured.Unix()*1e9 + int64(want.Measured.Nanosecond())},
		{"Received", got.Received.Unix()*1e9 + int64(got.Received.Nanosecond()), want.Received.Unix()*1e9 + int64(want.Received.Nanosecond())},
	} {
		if f.got != f.want {
			return fmt.Sprintf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if got.Measured.Location() != time.UTC || got.Received.Location() != time.UTC {
		return "times are not UTC"
	}
	return ""
}

func BenchmarkEncodeGroup(b *testing.B) {
	rs := sampleReadings("acme", "dev-1", 2500, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = EncodeGroup(buf[:0], rs)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportMetric(float64(len(buf))/float64(len(rs)), "bytes/reading")
}

func BenchmarkDecodeGroup(b *testing.B) {
	rs := sampleReadings("acme", "dev-1", 2500, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	enc := EncodeGroup(nil, rs)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeGroup(enc); err != nil {
			b.Fatal(err)
		}
	}
}
