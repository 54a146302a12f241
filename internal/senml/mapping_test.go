package senml

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

func TestToReadingsNames(t *testing.T) {
	bp := Device{Tenant: "t1", ID: "bed4-mon", Kind: KindBPMonitor, Subject: "p-4"}
	gw := Device{Tenant: "t1", ID: "gw-1", Kind: "patient", BaseNames: []string{"urn:dev:ow:1", "urn:dev:ow:1:child", "192.0.2.7"}}
	env := Device{Tenant: "t1", ID: "d-env1", Kind: KindEnvironment, BaseNames: []string{"urn:dev:imei:356938035643809"}}
	tests := []struct {
		name string
		dev  Device
		in   string
		want string // metric, or "!error text"
		val  float64
	}{
		{"device id is a base name", bp, `[{"bn":"bed4-mon:","n":"hr","u":"beat/min","v":72}]`, "hr", 72},
		{"bare metric name", bp, `[{"n":"hr","u":"beat/min","v":72}]`, "hr", 72},
		{"bare name case-insensitive", bp, `[{"n":"SpO2","u":"/","v":0.97}]`, "spo2", 97},
		{"bare metric key", bp, `[{"n":"nibp_sys","u":"Pa","v":16000}]`, "nibp_sys", 16000 / 133.322387415},
		{"pr on a BP monitor", bp, `[{"n":"pulse","u":"beat/min","v":70}]`, "pr_nibp", 70},
		{"pr on a patient device", gw, `[{"n":"pr","u":"1/s","v":1}]`, "hr", 60},
		{"pr on an oximeter", oximeter, `[{"n":"pr","u":"beat/min","v":70}]`, "pr_spo2", 70},
		{"sys dia map", bp, `[{"bn":"bed4-mon/","bu":"Pa","n":"map","v":13332.2387415}]`, "nibp_mean", 100},
		{"ecg lead name", gw, `[{"n":"ecg-ii","u":"V","v":0.001}]`, "ecg_ii", 1},
		{"longest base wins", gw, `[{"n":"urn:dev:ow:1:child:temp","u":"Cel","v":37}]`, "temp_body", 37},
		{"slash separator", gw, `[{"n":"192.0.2.7/temperature","u":"K","v":310.15}]`, "temp_body", 37},
		{"sensor itself: %RH", env, `[{"n":"urn:dev:imei:356938035643809","u":"%RH","v":40}]`, "rh", 40},
		{"sensor itself: Cel on environment", env, `[{"n":"urn:dev:imei:356938035643809","u":"Cel","v":4}]`, "temp_ambient", 4},
		{"sensor itself: Cel on patient", gw, `[{"n":"urn:dev:ow:1","u":"Cel","v":37}]`, "temp_body", 37},
		{"sensor itself: battery", gw, `[{"n":"urn:dev:ow:1","u":"%EL","v":80}]`, "battery", 80},
		{"sensor itself: lat", gw, `[{"n":"urn:dev:ow:1","u":"lat","v":52.1}]`, "lat", 52.1},
		{"sensor itself: other unit is unmapped", gw, `[{"n":"urn:dev:ow:1","u":"m","v":3}]`, "urn:dev:ow:1", 3},
		{"sensor itself with trailing separator", gw, `[{"bn":"urn:dev:ow:1:","n":"","u":"%RH","v":30}]`, "rh", 30},
		{"unknown name is unmapped", gw, `[{"n":"urn:dev:ow:1:door-open","vb":false}]`, "urn:dev:ow:1:door-open", 0},
		{"unknown name may have no unit", gw, `[{"n":"urn:dev:ow:1:count","v":5}]`, "urn:dev:ow:1:count", 5},
		{"glucose", gw, `[{"n":"urn:dev:ow:1:glucose","u":"kg/m3","v":1.05}]`, "glucose", 105},
		{"weight in g", gw, `[{"n":"urn:dev:ow:1:weight","u":"g","v":72600}]`, "weight", 72.6},

		{"foreign name", bp, `[{"n":"other-mon:hr","u":"beat/min","v":72}]`, "!senml: record 0: name 'other-mon:hr' does not belong to device bed4-mon", 0},
		{"prefix without separator", gw, `[{"n":"urn:dev:ow:10:hr","u":"beat/min","v":72}]`, "!senml: record 0: name 'urn:dev:ow:10:hr' does not belong to device gw-1", 0},
		{"bare unknown name is foreign", bp, `[{"n":"door-open","vb":true}]`, "!senml: record 0: name 'door-open' does not belong to device bed4-mon", 0},
		{"ownership checked per record", bp, `[{"n":"hr","u":"beat/min","v":72},{"n":"x:hr","u":"beat/min","v":72}]`, "!senml: record 1: name 'x:hr' does not belong to device bed4-mon", 0},
		{"unit required", bp, `[{"n":"hr","v":72}]`, "!senml: record 0: unit required for metric 'hr'", 0},
		{"unit not valid for metric", bp, `[{"n":"spo2","u":"Cel","v":0.9}]`, `!senml: record 0: unit "Cel" is not valid for metric 'spo2'`, 0},
		{"known metric needs v", bp, `[{"n":"hr","u":"beat/min","vs":"72"}]`, "!senml: record 0: metric 'hr' needs a numeric value (v)", 0},
		{"ratio rule", bp, `[{"n":"spo2","u":"%","v":1.01}]`, "!senml: record 0: unit '%' is a ratio in SenML (0–1); send 0.97 for 97 %", 0},
	}
	for _, tt := range tests {
		recs, err := DecodeJSON([]byte(tt.in), exampleNow)
		if err != nil {
			t.Errorf("%s: DecodeJSON: %v", tt.name, err)
			continue
		}
		rs, err := ToReadings(recs, tt.dev, exampleNow)
		if want, ok := strings.CutPrefix(tt.want, "!"); ok {
			if _, typed := errors.AsType[*Error](err); !typed || err.Error() != want {
				t.Errorf("%s: ToReadings error = %v, want %s", tt.name, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: ToReadings: %v", tt.name, err)
			continue
		}
		r := rs[len(rs)-1]
		if r.Metric != tt.want || math.Abs(r.Value-tt.val) > 1e-9 {
			t.Errorf("%s: reading %s = %v, want %s = %v", tt.name, r.Metric, r.Value, tt.want, tt.val)
		}
		if _, known := reading.LookupMetric(r.Metric); known == (r.Flags&reading.Unmapped != 0) {
			t.Errorf("%s: metric %s has flags %b", tt.name, r.Metric, r.Flags)
		}
		if r.ID != reading.NewID(tt.dev.Tenant, tt.dev.ID, r.Metric, r.Measured) {
			t.Errorf("%s: ID does not match tenant, device, metric and time", tt.name)
		}
	}
}

func TestToReadingsFlagsAndSums(t *testing.T) {
	recs, err := DecodeJSON([]byte(`[{"bn":"bed4-mon:","bt":1719835000,"n":"spo2","u":"/","v":1.2},`+
		`{"n":"hr","u":"1/s","s":120,"v":1},{"n":"temp","u":"K","s":100,"v":310.15},{"n":"x","u":"m","s":3}]`), exampleNow)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ToReadings(recs, Device{Tenant: "t", ID: "bed4-mon", Kind: "patient"}, exampleNow)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Flags != reading.Implausible || rs[0].Value != 120 {
		t.Errorf("spo2 1.2 ratio = %v flags %b, want 120 flagged implausible", rs[0].Value, rs[0].Flags)
	}
	if rs[1].Flags != 0 || !rs[1].HasSum || rs[1].Sum != 7200 || rs[1].Value != 60 {
		t.Errorf("hr 1/s = %v sum %v (%v) flags %b, want 60, sum 7200", rs[1].Value, rs[1].Sum, rs[1].HasSum, rs[1].Flags)
	}
	if rs[2].HasSum || math.Abs(rs[2].Value-37) > 1e-9 {
		t.Errorf("temp K = %v, sum %v (%v); want 37 and no sum (offset conversion)", rs[2].Value, rs[2].Sum, rs[2].HasSum)
	}
	if r := rs[3]; r.Flags != reading.Unmapped || r.Kind != reading.Number || !r.HasSum || r.Sum != 3 || r.Unit != "m" {
		t.Errorf("sum-only unmapped = %+v", r)
	}
}

// TestToReadingsStatusFlags: heartbeat and sensor_off are booleans (0/1, unit "1") keeping the
// device's time; a number for a flag metric is refused naming the record, and an unknown
// boolean stays an unmapped raw series.
func TestToReadingsStatusFlags(t *testing.T) {
	recs, err := DecodeJSON([]byte(`[{"bn":"bed4-mon:","bt":1719835000,"n":"heartbeat","vb":true},`+
		`{"n":"sensor-off","vb":false},{"n":"door-open","vb":true}]`), exampleNow)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := ToReadings(recs, Device{Tenant: "t", ID: "bed4-mon", Kind: "monitor"}, exampleNow)
	if err != nil {
		t.Fatal(err)
	}
	if r := rs[0]; r.Metric != "heartbeat" || r.Kind != reading.Bool || r.Value != 1 || r.Unit != "1" ||
		r.Measured.Unix() != 1719835000 || r.Flags != 0 {
		t.Errorf("heartbeat = %+v", r)
	}
	if r := rs[1]; r.Metric != "sensor_off" || r.Kind != reading.Bool || r.Value != 0 {
		t.Errorf("sensor-off = %+v", r)
	}
	if r := rs[2]; r.Flags != reading.Unmapped || r.Kind != reading.Bool || r.Value != 1 {
		t.Errorf("door-open = %+v, want an unmapped boolean", r)
	}
	recs, err = DecodeJSON([]byte(`[{"bn":"bed4-mon:","bt":1719835000,"n":"hr","u":"beat/min","v":60},{"n":"heartbeat","v":1}]`), exampleNow)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ToReadings(recs, Device{Tenant: "t", ID: "bed4-mon", Kind: "monitor"}, exampleNow)
	if err == nil || !strings.Contains(err.Error(), "record 1") || !strings.Contains(err.Error(), "needs a boolean value (vb)") {
		t.Errorf("heartbeat as a number: %v, want a rejection of record 1", err)
	}
}

func TestDecodeMediaTypes(t *testing.T) {
	jsonPack := []byte(`[{"n":"a","v":1}]`)
	cborPack := EncodeCBOR([]Record{{Name: "a", Kind: Number, Value: 1, Time: exampleNow}})
	tests := []struct {
		ct      string
		in      []byte
		wantErr string // "" = accepted
		is415   bool
	}{
		{"application/senml+json", jsonPack, "", false},
		{"Application/SenML+JSON; charset=utf-8", jsonPack, "", false},
		{"application/senml+cbor", cborPack, "", false},
		{"", jsonPack, "", false},
		{"", append([]byte(" \r\n\t"), jsonPack...), "", false},
		{"", cborPack, "", false},
		{"", []byte{0x9f, 0xff}, "senml: pack: indefinite length array not allowed for senml+cbor", false},
		{"", []byte("hello"), "senml: pack: not a SenML pack", false},
		{"", nil, "senml: pack: not a SenML pack", false},
		{"application/sensml+json", jsonPack, `senml: media type "application/sensml+json": streaming SensML is not supported`, true},
		{"application/sensml+cbor", cborPack, `senml: media type "application/sensml+cbor": streaming SensML is not supported`, true},
		{"application/senml+xml", jsonPack, `senml: media type "application/senml+xml": SenML XML and EXI are not supported`, true},
		{"application/senml-exi", jsonPack, `senml: media type "application/senml-exi": SenML XML and EXI are not supported`, true},
		{"application/json", jsonPack, `senml: media type "application/json": not a SenML media type (use application/senml+json or application/senml+cbor)`, true},
		{"application/senml+json", cborPack, "senml: pack: not an array", false},
	}
	for _, tt := range tests {
		_, err := Decode(tt.in, tt.ct, exampleNow)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.wantErr || errors.Is(err, ErrUnsupportedMediaType) != tt.is415 {
			t.Errorf("Decode(%q, %q) = %v (415: %v), want %q (415: %v)", tt.in, tt.ct, err,
				errors.Is(err, ErrUnsupportedMediaType), tt.wantErr, tt.is415)
		}
		if err != nil && !tt.is415 {
			if _, ok := errors.AsType[*Error](err); !ok {
				t.Errorf("Decode(%q, %q): error %T is not *Error", tt.in, tt.ct, err)
			}
		}
	}
}

func TestSizeLimits(t *testing.T) {
	rec := func(s string) string { return `{"n":"a",` + s + `}` }
	many := func(n int) []byte {
		return []byte("[" + strings.TrimSuffix(strings.Repeat(`{"n":"a","v":1},`, n), ",") + "]")
	}
	tests := []struct {
		name    string
		in      []byte
		wantErr string // "" = accepted
	}{
		{"name of 256 bytes", []byte(`[{"bn":"` + strings.Repeat("a", 200) + `","n":"` + strings.Repeat("b", 56) + `","v":1}]`), ""},
		{"name of 257 bytes", []byte(`[{"bn":"` + strings.Repeat("a", 200) + `","n":"` + strings.Repeat("b", 57) + `","v":1}]`), "senml: record 0: name longer than 256 bytes"},
		{"vs of 4096 bytes", []byte("[" + rec(`"vs":"`+strings.Repeat("x", 4096)+`"`) + "]"), ""},
		{"vs of 4097 bytes", []byte("[" + rec(`"vs":"`+strings.Repeat("x", 4097)+`"`) + "]"), "senml: record 0: vs longer than 4096 bytes"},
		{"vd of 65536 bytes", []byte("[" + rec(`"vd":"`+strings.Repeat("AAAA", 65536/3)+`AA"`) + "]"), ""},
		{"vd of 65537 bytes", []byte("[" + rec(`"vd":"`+strings.Repeat("AAAA", 65536/3)+`AAA"`) + "]"), "senml: record 0: vd longer than 65536 bytes"},
		{"10000 records", many(10000), ""},
		{"10001 records", many(10001), "senml: pack: more than 10000 records"},
		{"over 1 MiB", append(many(1), make([]byte, MaxPackBytes)...), "senml: pack: pack larger than 1 MiB"},
	}
	for _, tt := range tests {
		_, err := DecodeJSON(tt.in, exampleNow)
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: error = %v, want %s wrapping ErrTooLarge", tt.name, err, tt.wantErr)
		}
	}
	// CBOR: the record count is checked from the array head, before decoding.
	head := []byte{0x99, 0x27, 0x11} // array(10001)
	if _, err := DecodeCBOR(head, exampleNow); !errors.Is(err, ErrTooLarge) {
		t.Errorf("DecodeCBOR(array(10001)) error = %v, want ErrTooLarge", err)
	}
}

func TestDecodeCBORCases(t *testing.T) {
	tests := []struct {
		name, hex string
		want      float64 // v of record 0 when accepted
		wantErr   string
	}{
		{"decimal fraction", "81 a2 00 61 61 02 c4 82 21 19 6a b3", 273.15, ""}, // 4([-2, 27315])
		{"half float", "81 a2 00 61 61 02 f9 51 30", 41.5, ""},
		{"single float", "81 a2 00 61 61 02 fa 3f c0 00 00", 1.5, ""},
		{"negative int", "81 a2 00 61 61 02 38 77", -120, ""},
		{"string label ignored", "81 a3 00 61 61 02 01 63 66 6f 6f 01", 1, ""},
		{"bignum", "81 a2 00 61 61 02 c2 41 01", 0, "senml: record 0: v must be a number"},
		{"text v", "81 a2 00 61 61 02 61 31", 0, "senml: record 0: v must be a number"},
		{"bver float", "81 a3 20 fb 40 24 00 00 00 00 00 00 00 61 61 02 01", 0, "senml: record 0: bver must be a positive integer"},
		{"must-understand string label", "81 a3 00 61 61 02 01 62 78 5f 01", 0, `senml: record 0: unsupported must-understand label "x_"`},
		{"unknown negative label", "81 a3 00 61 61 02 01 26 01", 0, "senml: record 0: unknown CBOR label -7"},
		{"infinity", "81 a2 00 61 61 02 f9 7c 00", 0, "senml: record 0: v is not a finite number"},
		{"NaN in t", "81 a3 00 61 61 02 01 06 f9 7e 00", 0, "senml: record 0: t is not a finite number"},
		{"indefinite map", "81 bf 00 61 61 02 01 ff", 0, "senml: record 0: indefinite length map not allowed for senml+cbor"},
		{"record not a map", "81 01", 0, "senml: record 0: not a map"},
		{"duplicate bn", "81 a3 21 61 61 21 61 62 02 01", 0, "senml: record 0: duplicate label -2 (bn)"},
		{"empty", "80", 0, "senml: pack: empty pack"},
		{"trailing data", "81 a2 00 61 61 02 01 00", 0, "senml: pack: invalid CBOR: data after the array"},
		{"invalid UTF-8 name", "81 a2 00 61 ff 02 01", 0, "senml: record 0: invalid CBOR: cbor: invalid UTF-8 string"},
	}
	for _, tt := range tests {
		in := readHex(t, tt.hex)
		recs, err := DecodeCBOR(in, exampleNow)
		if tt.wantErr != "" {
			if _, ok := errors.AsType[*Error](err); !ok || err.Error() != tt.wantErr {
				t.Errorf("%s: DecodeCBOR(%s) error = %v, want %s", tt.name, tt.hex, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: DecodeCBOR(%s): %v", tt.name, tt.hex, err)
			continue
		}
		if math.Abs(recs[0].Value-tt.want) > 1e-12 {
			t.Errorf("%s: v = %v, want %v", tt.name, recs[0].Value, tt.want)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	for _, ex := range workedExamples {
		recs, err := DecodeJSON(readFixture(t, ex.json), exampleNow)
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, err := DecodeJSON(EncodeJSON(recs), exampleNow)
		if err != nil {
			t.Fatalf("%s: decode EncodeJSON: %v\n%s", ex.name, err, EncodeJSON(recs))
		}
		fromCBOR, err := DecodeCBOR(EncodeCBOR(recs), exampleNow)
		if err != nil {
			t.Fatalf("%s: decode EncodeCBOR: %v", ex.name, err)
		}
		for _, got := range [][]Record{fromJSON, fromCBOR} {
			if err := sameRecords(got, recs, 0, true); err != nil {
				t.Errorf("%s: round trip: %v", ex.name, err)
			}
		}
	}
	// Escaping, data and sums survive.
	recs := []Record{
		{Name: "a", Kind: String, StringValue: "q\"\\\x01é😀", Time: unix(1719835000).Add(123456789)},
		{Name: "b", Kind: Data, DataValue: []byte{0, 1, 255}, Time: unix(1719835000)},
		{Name: "c", Unit: "W", Kind: NoValue, Sum: 1.5, HasSum: true, UpdateTime: 60, HasUpdateTime: true, Time: unix(1719835000)},
		{Name: "d", Kind: Bool, Time: unix(1719835000)},
	}
	for _, enc := range []struct {
		name string
		b    []byte
		dec  func([]byte, time.Time) ([]Record, error)
	}{{"json", EncodeJSON(recs), DecodeJSON}, {"cbor", EncodeCBOR(recs), DecodeCBOR}} {
		got, err := enc.dec(enc.b, exampleNow)
		if err != nil {
			t.Fatalf("%s: %v", enc.name, err)
		}
		if err := sameRecords(got, recs, time.Microsecond, false); err != nil {
			t.Errorf("%s: %v", enc.name, err)
		}
	}
}
