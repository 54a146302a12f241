package senml

import (
	"testing"
	"time"
)

// TestTimeKeptToTheMicrosecond: float64 seconds of today's epoch carry about 0.2 µs of noise;
// resolved absolute times are rounded to the microsecond so that bt+t lands where the device meant.
func TestTimeKeptToTheMicrosecond(t *testing.T) {
	now := time.Unix(1718180100, 0)
	tests := []struct {
		pack string
		want time.Time
	}{
		{`[{"bt":1718180000.1,"n":"x","t":0.2,"v":1}]`, time.Unix(1718180000, 300_000_000)},
		{`[{"n":"x","t":1718180000.123456789,"v":1}]`, time.Unix(1718180000, 123_457_000)},
		{`[{"n":"x","t":1718180000.9999996,"v":1}]`, time.Unix(1718180001, 0)},
		{`[{"n":"x","t":-0.0000004,"v":1}]`, now},
		{`[{"n":"x","t":-1.5,"v":1}]`, now.Add(-1500 * time.Millisecond)},
	}
	for _, tt := range tests {
		recs, err := DecodeJSON([]byte(tt.pack), now)
		if err != nil {
			t.Fatalf("%s: %v", tt.pack, err)
		}
		if got := recs[0].Time; !got.Equal(tt.want) {
			t.Errorf("%s: time %s, want %s", tt.pack, got.Format(time.RFC3339Nano), tt.want.UTC().Format(time.RFC3339Nano))
		}
	}
}
