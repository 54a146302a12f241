package senml

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// now for the worked examples: 2024-07-01T12:00:00Z (the receive time given in §6.3; later
// than every absolute time of §6.1 and §6.2).
var exampleNow = unix(1719835200)

// Registered base names of senml.md §6.
var (
	oximeter = Device{Tenant: "t1", ID: "d-ox1", Kind: KindOximeter, Subject: "p-1",
		BaseNames: []string{"urn:dev:mac:0024befffe804ff1"}}
	envLogger = Device{Tenant: "t1", ID: "d-env1", Kind: KindEnvironment, Subject: "fridge-3",
		BaseNames: []string{"urn:dev:imei:356938035643809"}}
	thermometer = Device{Tenant: "t1", ID: "d-th1", Kind: "thermometer", Subject: "p-2",
		BaseNames: []string{"urn:dev:ow:10e2073a0108aa01"}}
)

func num(name, unit string, t int64, v float64) Record {
	return Record{Name: name, Unit: unit, Kind: Number, Value: v, Time: unix(t)}
}

type wantReading struct {
	metric string
	value  float64
	unit   string
	text   string
	kind   reading.Kind
	flags  reading.Flags
}

var workedExamples = []struct {
	name      string
	json, hex string
	cborLen   int
	dev       Device
	recs      []Record
	readings  []wantReading
}{
	{
		name: "6.1 pulse oximeter", json: "ex61.json", hex: "ex61.hex", cborLen: 92, dev: oximeter,
		recs: []Record{
			num("urn:dev:mac:0024befffe804ff1:spo2", "/", 1718180000, 0.94),
			num("urn:dev:mac:0024befffe804ff1:pr", "beat/min", 1718180000, 87),
			num("urn:dev:mac:0024befffe804ff1:pi", "/", 1718180000, 0.0245),
		},
		readings: []wantReading{
			{metric: "spo2", value: 94, unit: "%"},
			{metric: "pr_spo2", value: 87, unit: "/min"},
			{metric: "pi", value: 2.45, unit: "%"},
		},
	},
	{
		name: "6.2 cold-chain logger", json: "ex62.json", hex: "ex62.hex", cborLen: 102, dev: envLogger,
		recs: []Record{
			num("urn:dev:imei:356938035643809/temp", "Cel", 1719835200, 4.6),
			num("urn:dev:imei:356938035643809/temp", "Cel", 1719835500, 5.2),
			num("urn:dev:imei:356938035643809/rh", "%RH", 1719835500, 46.5), // the bv trap
		},
		readings: []wantReading{
			{metric: "temp_ambient", value: 4.6, unit: "Cel"},
			{metric: "temp_ambient", value: 5.2, unit: "Cel"},
			{metric: "rh", value: 46.5, unit: "%"},
		},
	},
	{
		name: "6.3 thermometer without a clock", json: "ex63.json", hex: "ex63.hex", cborLen: 113, dev: thermometer,
		recs: []Record{
			{Name: "urn:dev:ow:10e2073a0108aa01:temp", Unit: "Cel", Kind: Number, Value: 36.9, Time: unix(1719835080), TimeRelative: true},
			{Name: "urn:dev:ow:10e2073a0108aa01:temp", Unit: "Cel", Kind: Number, Value: 37, Time: unix(1719835140), TimeRelative: true},
			{Name: "urn:dev:ow:10e2073a0108aa01:temp", Unit: "Cel", Kind: Number, Value: 37.2, Time: unix(1719835200), TimeRelative: true},
			{Name: "urn:dev:ow:10e2073a0108aa01:door-open", Unit: "Cel", Kind: Bool, BoolValue: true, Time: unix(1719835200), TimeRelative: true},
			{Name: "urn:dev:ow:10e2073a0108aa01:fw", Unit: "Cel", Kind: String, StringValue: "2.4.1", Time: unix(1719835200), TimeRelative: true},
		},
		readings: []wantReading{
			{metric: "temp_body", value: 36.9, unit: "Cel", flags: reading.TimeRelative},
			{metric: "temp_body", value: 37.0, unit: "Cel", flags: reading.TimeRelative},
			{metric: "temp_body", value: 37.2, unit: "Cel", flags: reading.TimeRelative},
			{metric: "urn:dev:ow:10e2073a0108aa01:door-open", kind: reading.Bool, value: 1, flags: reading.TimeRelative | reading.Unmapped},
			{metric: "urn:dev:ow:10e2073a0108aa01:fw", kind: reading.String, text: "2.4.1", flags: reading.TimeRelative | reading.Unmapped},
		},
	},
}

// checkRecords compares values to 1e-12: bv + v is a float sum (5 + −0.4 for 4.6).
func checkRecords(t *testing.T, got, want []Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if math.Abs(g.Value-w.Value) > 1e-12 {
			t.Errorf("record %d: v = %v, want %v", i, g.Value, w.Value)
		}
		g.Value, w.Value = 0, 0
		if !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC {
			t.Errorf("record %d: t = %v, want %v (UTC)", i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if g.Name != w.Name || g.Unit != w.Unit || g.Kind != w.Kind || g.StringValue != w.StringValue ||
			g.BoolValue != w.BoolValue || g.HasSum != w.HasSum || g.Sum != w.Sum || g.TimeRelative != w.TimeRelative {
			t.Errorf("record %d = %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestWorkedExamplesJSON(t *testing.T) {
	for _, ex := range workedExamples {
		t.Run(ex.name, func(t *testing.T) {
			recs, err := Decode(readFixture(t, ex.json), "application/senml+json", exampleNow)
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, recs, ex.recs)
		})
	}
}

func TestWorkedExamplesCBOR(t *testing.T) {
	for _, ex := range workedExamples {
		t.Run(ex.name, func(t *testing.T) {
			b := readFixture(t, ex.hex)
			if len(b) != ex.cborLen {
				t.Fatalf("fixture %s has %d bytes, spec says %d", ex.hex, len(b), ex.cborLen)
			}
			recs, err := Decode(b, "application/senml+cbor", exampleNow)
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, recs, ex.recs)
		})
	}
}

func TestWorkedExamplesReadings(t *testing.T) {
	received := exampleNow.Add(2 * time.Second)
	for _, ex := range workedExamples {
		t.Run(ex.name, func(t *testing.T) {
			recs, err := DecodeJSON(readFixture(t, ex.json), exampleNow)
			if err != nil {
				t.Fatal(err)
			}
			rs, err := ToReadings(recs, ex.dev, received)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) != len(ex.readings) {
				t.Fatalf("got %d readings, want %d", len(rs), len(ex.readings))
			}
			for i, w := range ex.readings {
				r := rs[i]
				if r.Metric != w.metric || r.Kind != w.kind || math.Abs(r.Value-w.value) > 1e-9 ||
					r.Unit != w.unit || r.Text != w.text || r.Flags != w.flags {
					t.Errorf("reading %d = %s %v %v %q %q flags %b; want %s %v %v %q %q flags %b", i,
						r.Metric, r.Kind, r.Value, r.Unit, r.Text, r.Flags, w.metric, w.kind, w.value, w.unit, w.text, w.flags)
				}
				if r.Tenant != ex.dev.Tenant || r.Device != ex.dev.ID || r.Subject != ex.dev.Subject ||
					!r.Received.Equal(received) || !r.Measured.Equal(recs[i].Time) {
					t.Errorf("reading %d: identity %s/%s/%s measured %v received %v", i,
						r.Tenant, r.Device, r.Subject, r.Measured, r.Received)
				}
				if err := r.Validate(); err != nil {
					t.Errorf("reading %d: %v", i, err)
				}
			}
		})
	}
}

// decodeAndMap runs the ingest path: Decode, then ToReadings for the §6 oximeter.
func decodeAndMap(b []byte, contentType string) error {
	recs, err := Decode(b, contentType, exampleNow)
	if err != nil {
		return err
	}
	_, err = ToReadings(recs, oximeter, exampleNow)
	return err
}

// TestRejectionVectors checks every vector of senml.md §7 verbatim.
func TestRejectionVectors(t *testing.T) {
	tests := []struct{ file, want, sniffed string }{
		{"J01.json", "pack: not an array", "pack: not a SenML pack"},
		{"J02.json", "pack: empty pack", ""},
		{"J03.json", "record 0: more than one value field (v, vs)", ""},
		{"J04.json", "record 0: no value and no sum", ""},
		{"J05.json", `record 1: invalid name "a:b c"`, ""},
		{"J06.json", `record 0: invalid name "-x"`, ""},
		{"J07.json", "record 0: empty name", ""},
		{"J08.json", "record 0: unsupported SenML version 11", ""},
		{"J09.json", "record 1: version 6 differs from 5", ""},
		{"J10.json", `record 0: unsupported must-understand label "crit_"`, ""},
		{"J11.json", "record 0: v must be a number", ""},
		{"J12.json", `record 0: duplicate label "v"`, ""},
		{"J13.json", "record 0: vd must be base64url without padding", ""},
		{"J14.json", "record 0: unit required for metric 'spo2'", ""},
		{"J15.json", "record 0: unit '%' is a ratio in SenML (0–1); send 0.97 for 97 %", ""},
		{"J16.json", `record 0: unit "mmHg" is not a SenML unit (use "Pa")`, ""},
		{"J17.json", "record 0: time in the future", ""},
		{"J18.json", "pack: no measurement records", ""},
		{"C1.hex", "pack: not an array", "pack: not a SenML pack"},
		{"C2.hex", "record 0: duplicate label 2 (v)", ""},
		{"C3.hex", "pack: indefinite length array not allowed for senml+cbor", ""},
		{"C4.hex", "record 0: v is not a finite number", ""},
		{"C5.hex", "record 0: unknown CBOR label 9", ""},
	}
	for _, tt := range tests {
		ct := "application/senml+json"
		if strings.HasSuffix(tt.file, ".hex") {
			ct = "application/senml+cbor"
		}
		in := readFixture(t, tt.file)
		for _, contentType := range []string{ct, ""} { // "" sniffs, as MQTT 3.1.1 does
			want := tt.want
			if contentType == "" && tt.sniffed != "" {
				want = tt.sniffed
			}
			err := decodeAndMap(in, contentType)
			if _, ok := errors.AsType[*Error](err); !ok || err.Error() != "senml: "+want {
				t.Errorf("%s (content type %q): error = %v, want senml: %s", tt.file, contentType, err, want)
			}
		}
	}
}

func TestAcceptedEdgeCases(t *testing.T) {
	tests := []struct {
		file string
		want Record
	}{
		{"edge-base-only-first.json", Record{Name: "urn:dev:ow:1:a", Kind: Number, Value: 1}},
		{"edge-sum-only.json", Record{Name: "x", Kind: NoValue, Sum: 12.5, HasSum: true}},
		{"edge-base-sum.json", Record{Name: "x", Kind: Number, Value: 1, Sum: 10, HasSum: true}},
		{"edge-unknown-label.json", Record{Name: "x", Kind: Number, Value: 1}},
	}
	for _, tt := range tests {
		recs, err := DecodeJSON(readFixture(t, tt.file), exampleNow)
		if err != nil {
			t.Errorf("%s: %v", tt.file, err)
			continue
		}
		want := tt.want
		want.Time, want.TimeRelative = exampleNow, true // no t: relative 0 = now
		if err := sameRecords(recs, []Record{want}, 0, false); err != nil {
			t.Errorf("%s: %v", tt.file, err)
		}
	}
}

// TestResolution covers §3 rules beyond the worked examples, each from both sides.
func TestResolution(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Record // nil: want error
		err      string
	}{
		{"u is not inherited", `[{"n":"a","u":"Cel","v":1},{"n":"b","v":2}]`,
			[]Record{{Name: "a", Unit: "Cel", Kind: Number, Value: 1}, {Name: "b", Kind: Number, Value: 2}}, ""},
		{"bu is inherited and replaced", `[{"bu":"Cel","n":"a","v":1},{"bu":"K","n":"b","v":2}]`,
			[]Record{{Name: "a", Unit: "Cel", Kind: Number, Value: 1}, {Name: "b", Unit: "K", Kind: Number, Value: 2}}, ""},
		{"bv not applied to vs", `[{"bv":5,"n":"a","vs":"x"}]`,
			[]Record{{Name: "a", Kind: String, StringValue: "x"}}, ""},
		{"bv reset", `[{"bv":5,"n":"a","v":1},{"bv":0,"n":"b","v":1}]`,
			[]Record{{Name: "a", Kind: Number, Value: 6}, {Name: "b", Kind: Number, Value: 1}}, ""},
		{"bs with s", `[{"bs":10,"n":"a","s":2.5}]`,
			[]Record{{Name: "a", Kind: NoValue, Sum: 12.5, HasSum: true}}, ""},
		{"vd decoded", `[{"n":"a","vd":"AQI"}]`,
			[]Record{{Name: "a", Kind: Data, DataValue: []byte{1, 2}}}, ""},
		{"escapes and surrogates", `[{"n":"a","vs":"\ud83d\ude00 \u00e9\n\"\\\/"}]`,
			[]Record{{Name: "a", Kind: String, StringValue: "😀 é\n\"\\/"}}, ""},
		{"lone surrogate becomes U+FFFD", `[{"n":"a","vs":"\ud800x"}]`,
			[]Record{{Name: "a", Kind: String, StringValue: "\uFFFDx"}}, ""},
		{"escaped label", `[{"\u006e":"a","v":1}]`, []Record{{Name: "a", Kind: Number, Value: 1}}, ""},
		{"upper-case exponent", `[{"n":"a","v":1.5E2}]`, []Record{{Name: "a", Kind: Number, Value: 150}}, ""},
		{"nested unknown value skipped", `[{"n":"a","x":{"y":[1,{"z":null}],"w":"]"},"v":1}]`,
			[]Record{{Name: "a", Kind: Number, Value: 1}}, ""},
		{"bver 10 accepted", `[{"bver":10,"n":"a","v":1}]`, []Record{{Name: "a", Kind: Number, Value: 1}}, ""},
		{"same bver twice", `[{"bver":5,"n":"a","v":1},{"bver":5,"n":"b","v":1}]`,
			[]Record{{Name: "a", Kind: Number, Value: 1, Version: 5}, {Name: "b", Kind: Number, Value: 1, Version: 5}}, ""},
		{"whitespace", " \t\n[ { \"n\" : \"a\" , \"v\" : 1 } ]\r\n", []Record{{Name: "a", Kind: Number, Value: 1}}, ""},
		{"empty record is base-only", `[{},{"n":"a","v":1}]`, []Record{{Name: "a", Kind: Number, Value: 1}}, ""},

		{"duplicate via escape", `[{"n":"a","v":1,"\u0076":2}]`, nil, `senml: record 0: duplicate label "v"`},
		{"duplicate unknown label", `[{"n":"a","v":1,"x":1,"x":2}]`, nil, `senml: record 0: duplicate label "x"`},
		{"bver not integer", `[{"bver":1.5,"n":"a","v":1}]`, nil, "senml: record 0: bver must be a positive integer"},
		{"bver zero", `[{"bver":0,"n":"a","v":1}]`, nil, "senml: record 0: bver must be a positive integer"},
		{"three value fields", `[{"n":"a","v":1,"vb":true,"vd":"AA"}]`, nil, "senml: record 0: more than one value field (v, vb, vd)"},
		{"vb type", `[{"n":"a","vb":1}]`, nil, "senml: record 0: vb must be a boolean"},
		{"n type", `[{"n":1,"v":1}]`, nil, "senml: record 0: n must be a string"},
		{"null value", `[{"n":"a","v":null}]`, nil, "senml: record 0: v must be a number"},
		{"number out of range", `[{"n":"a","v":1e400}]`, nil, "senml: record 0: v is not a finite number"},
		{"vd with newline", `[{"n":"a","vd":"AQ\nI"}]`, nil, "senml: record 0: vd must be base64url without padding"},
		{"vd standard alphabet", `[{"n":"a","vd":"+/8"}]`, nil, "senml: record 0: vd must be base64url without padding"},
		{"unknown unit", `[{"n":"a","u":"furlong","v":1}]`, nil, `senml: record 0: unit "furlong" is not a SenML unit`},
		{"secondary unit", `[{"n":"a","u":"hPa","v":1}]`, nil, "senml: record 0: secondary unit 'hPa' not allowed in SenML v10"},
		{"unit is case-sensitive", `[{"n":"a","u":"cel","v":1}]`, nil, `senml: record 0: unit "cel" is not a SenML unit`},
		{"bad bu in base-only record", `[{"bu":"mmHg"},{"n":"a","v":1}]`, nil, `senml: record 0: unit "mmHg" is not a SenML unit (use "Pa")`},
		{"record not an object", `[{"n":"a","v":1},2]`, nil, "senml: record 1: not an object"},
		{"trailing data", `[{"n":"a","v":1}] x`, nil, "senml: pack: invalid JSON at byte 18: data after the array"},
		{"leading zero", `[{"n":"a","v":01}]`, nil, "senml: record 0: invalid JSON at byte 15: expected ',' or '}' in record"},
		{"trailing comma", `[{"n":"a","v":1,}]`, nil, "senml: record 0: invalid JSON at byte 16: expected a label"},
		{"invalid UTF-8", "[{\"n\":\"a\",\"vs\":\"\xff\"}]", nil, "senml: record 0: invalid JSON at byte 16: invalid UTF-8 in string"},
		{"control character", "[{\"n\":\"a\",\"vs\":\"\t\"}]", nil, "senml: record 0: invalid JSON at byte 16: control character in string"},
		{"mismatched brackets in unknown", `[{"n":"a","x":[1},"v":1}]`, nil, "senml: record 0: invalid JSON at byte 16: unexpected character in value"},
		{"truncated", `[{"n":"a","v":1}`, nil, "senml: pack: invalid JSON at byte 16: unexpected end of input in array"},
		{"not a SenML time: before 1970", `[{"n":"a","t":-1719835201,"v":1}]`, nil, "senml: record 0: time before 1970"},
	}
	for _, tt := range tests {
		recs, err := DecodeJSON([]byte(tt.in), exampleNow)
		if tt.want == nil {
			if _, ok := errors.AsType[*Error](err); !ok || err.Error() != tt.err {
				t.Errorf("%s: DecodeJSON(%s) error = %v, want %s", tt.name, tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: DecodeJSON(%s): %v", tt.name, tt.in, err)
			continue
		}
		for i := range tt.want {
			tt.want[i].Time, tt.want[i].TimeRelative = exampleNow, true
		}
		if err := sameRecords(recs, tt.want, 0, false); err != nil {
			t.Errorf("%s: DecodeJSON(%s): %v", tt.name, tt.in, err)
		}
	}
}

// TestTimeRules checks §3 rules 8 and 12 at their boundaries.
func TestTimeRules(t *testing.T) {
	const limit = 1 << 28
	tests := []struct {
		in       string
		want     time.Time
		relative bool
		err      string
	}{
		{`[{"n":"a","t":268435455,"v":1}]`, exampleNow.Add(limit*time.Second - time.Second), true, "senml: record 0: time in the future"},
		{`[{"n":"a","t":268435456,"v":1}]`, unix(limit), false, ""},
		{`[{"bt":268435000,"n":"a","t":456,"v":1}]`, unix(limit), false, ""}, // the test is on the sum
		{`[{"bt":1719835200,"n":"a","t":-1719835200,"v":1}]`, exampleNow, true, ""},
		{`[{"n":"a","t":600,"v":1}]`, exampleNow.Add(10 * time.Minute), true, ""},
		{`[{"n":"a","t":600.5,"v":1}]`, time.Time{}, true, "senml: record 0: time in the future"},
		{`[{"n":"a","t":1719835800,"v":1}]`, unix(1719835800), false, ""},
		{`[{"n":"a","t":1719835800.001,"v":1}]`, time.Time{}, false, "senml: record 0: time in the future"},
		{`[{"n":"a","t":1718180000.25,"v":1}]`, unix(1718180000).Add(250 * time.Millisecond), false, ""},
		{`[{"n":"a","t":-0.5,"v":1}]`, exampleNow.Add(-500 * time.Millisecond), true, ""},
		{`[{"n":"a","t":1e300,"v":1}]`, time.Time{}, false, "senml: record 0: time in the future"},
	}
	for _, tt := range tests {
		recs, err := DecodeJSON([]byte(tt.in), exampleNow)
		if tt.err != "" && tt.want.IsZero() {
			if err == nil || err.Error() != tt.err {
				t.Errorf("DecodeJSON(%s) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if tt.relative && tt.want.After(exampleNow.Add(10*time.Minute)) {
			if err == nil || err.Error() != tt.err {
				t.Errorf("DecodeJSON(%s) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("DecodeJSON(%s): %v", tt.in, err)
			continue
		}
		if r := recs[0]; !r.Time.Equal(tt.want) || r.TimeRelative != tt.relative {
			t.Errorf("DecodeJSON(%s) t = %v relative %v, want %v %v", tt.in, r.Time, r.TimeRelative, tt.want, tt.relative)
		}
	}
}
