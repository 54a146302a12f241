package senml

import (
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readFixture returns the bytes of testdata/name. A .hex file holds a hex dump as the spec
// prints it: optional 4-digit offsets, then bytes as pairs of hex digits.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	if !strings.HasSuffix(name, ".hex") {
		return b
	}
	var out []byte
	for _, line := range strings.Split(string(b), "\n") {
		for _, tok := range strings.Fields(line) {
			if len(tok) == 4 {
				continue // offset column
			}
			v, err := hex.DecodeString(tok)
			if err != nil {
				tb.Fatalf("%s: %v", name, err)
			}
			out = append(out, v...)
		}
	}
	return out
}

// readHex decodes space-separated hex bytes.
func readHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// fixtures returns the contents of every testdata file matching pattern.
func fixtures(tb testing.TB, pattern string) [][]byte {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no fixtures match %s (%v)", pattern, err)
	}
	var out [][]byte
	for _, n := range names {
		out = append(out, readFixture(tb, filepath.Base(n)))
	}
	return out
}

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// sameRecords compares resolved records, allowing times to differ by up to tol and, when
// ignoreRelative, TimeRelative to differ (an encoder writes absolute times only).
func sameRecords(a, b []Record, tol time.Duration, ignoreRelative bool) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d records vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i], b[i]
		d := x.Time.Sub(y.Time)
		if d < -tol || d > tol {
			return fmt.Errorf("record %d: time %v vs %v", i, x.Time, y.Time)
		}
		x.Time, y.Time = time.Time{}, time.Time{}
		if ignoreRelative {
			x.TimeRelative, y.TimeRelative = false, false
		}
		if len(x.DataValue) == 0 && len(y.DataValue) == 0 {
			x.DataValue, y.DataValue = nil, nil
		}
		if x.Name != y.Name || x.Unit != y.Unit || x.Kind != y.Kind || !sameFloat(x.Value, y.Value) ||
			x.StringValue != y.StringValue || x.BoolValue != y.BoolValue || string(x.DataValue) != string(y.DataValue) ||
			x.HasSum != y.HasSum || !sameFloat(x.Sum, y.Sum) || x.TimeRelative != y.TimeRelative ||
			x.HasUpdateTime != y.HasUpdateTime || !sameFloat(x.UpdateTime, y.UpdateTime) || x.Version != y.Version {
			return fmt.Errorf("record %d: %+v vs %+v", i, x, y)
		}
	}
	return nil
}

func sameFloat(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
