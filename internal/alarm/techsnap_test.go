package alarm

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestTechSnapshotAcrossRestart: a device silent since before a restart, and a session lost
// just before it, still raise NO_DATA and DEVICE_OFFLINE from an evaluator restored from the
// snapshot (through JSON, as the checkpoint stores it), a full threshold after processing
// resumed (Rebase); a device that reports again meanwhile raises nothing; a fresh evaluator,
// which never sees those devices' readings again, raises nothing at all.
func TestTechSnapshotAcrossRestart(t *testing.T) {
	base := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	x := NewTechEvaluator()
	for s := 0; s <= 10; s++ {
		r := mkReading("t1", "wear1", "pat1", "spo2", 95, base.Add(time.Duration(s)*time.Second))
		x.Reading(&r, "ward1", nil)
	}
	r := mkReading("t1", "ox2", "pat2", "battery", 15, base)
	x.Reading(&r, "ward1", nil)
	x.Connectivity(Connectivity{Tenant: "t1", Device: "mon3", Subject: "pat3", Connected: true, At: base}, nil)
	x.Connectivity(Connectivity{Tenant: "t1", Device: "mon3", Subject: "pat3", Lost: true, At: base.Add(5 * time.Second)}, nil)

	raw, err := json.Marshal(x.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var ts TechSnapshot
	if err := json.Unmarshal(raw, &ts); err != nil {
		t.Fatal(err)
	}
	y := NewTechEvaluator()
	y.Restore(ts)
	if !reflect.DeepEqual(y.Snapshot(), x.Snapshot()) {
		t.Fatalf("restored snapshot differs:\n got %+v\nwant %+v", y.Snapshot(), x.Snapshot())
	}
	if c := NewTechEvaluator().Check(base.Add(time.Hour), nil); len(c) != 0 {
		t.Fatalf("a fresh evaluator: %+v, want nothing", c)
	}
	// Restored at 20 s and rebased there (processing resumed): the timers count from 20 s.
	y.Rebase(base.Add(20 * time.Second))
	if c := y.Check(base.Add(79*time.Second), nil); len(c) != 1 || c[0].Code != DeviceOffline || !c[0].At.Equal(base.Add(50*time.Second)) || !c[0].Onset.Equal(base.Add(5*time.Second)) {
		t.Fatalf("at 79 s: %+v, want only DEVICE_OFFLINE at 50 s (rebased 20 s + 30 s) with onset at the loss, 5 s", c)
	}
	// The battery device reports again (a live reading): it is not silent any more.
	r = mkReading("t1", "ox2", "pat2", "battery", 15, base.Add(75*time.Second))
	y.Reading(&r, "ward1", nil)
	c := y.Check(base.Add(80*time.Second), nil)
	if len(c) != 1 || c[0].Code != NoData || c[0].Device != "wear1" || !c[0].At.Equal(base.Add(80*time.Second)) {
		t.Fatalf("at 80 s: %+v, want NO_DATA for wear1 at 80 s (rebased 20 s + 60 s)", c)
	}
	// Two hours on: only ox2's new silence (learned interval 75 s: 75 s + 255 s); wear1 and
	// mon3 were raised once.
	if c := y.Check(base.Add(2*time.Hour), nil); len(c) != 1 || c[0].Device != "ox2" || !c[0].At.Equal(base.Add(330*time.Second)) {
		t.Fatalf("later: %+v, want only ox2's NO_DATA at 330 s", c)
	}
}
