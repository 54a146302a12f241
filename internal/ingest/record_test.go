package ingest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// TestRecord: readings Vigil observes about a device go to the log as they are, unpaced; a
// reading of another device or an invalid one is refused whole; a log failure is
// *UnavailableError.
func TestRecord(t *testing.T) {
	var events []string
	lg := &stepLog{events: &events}
	p := NewPipeline(lg, time.Now, NewMetrics(prometheus.NewRegistry()))
	p.PaceBy(stepPacer{&events})
	dev := Device{Tenant: "t", ID: "mon1", Kind: "monitor", Subject: "P-1"}
	at := time.Date(2026, 12, 8, 9, 0, 0, 0, time.UTC)
	up := reading.Connectivity("t", "mon1", "P-1", true, reading.ConnOpened, at)
	if err := p.Record(t.Context(), dev, []reading.Reading{up}); err != nil {
		t.Fatalf("Record = %v", err)
	}
	if fmt.Sprint(events) != "[append 1]" || len(lg.appended) != 1 || lg.appended[0] != up {
		t.Fatalf("events %v, appended %+v; want the one reading appended as given, unpaced", events, lg.appended)
	}

	other := reading.Connectivity("t", "mon2", "", false, reading.ConnLost, at)
	broken := up
	broken.Metric = "" // the id no longer matches either
	for _, bad := range [][]reading.Reading{{up, other}, {broken}} {
		events = nil
		if err := p.Record(t.Context(), dev, bad); err == nil || len(events) != 0 {
			t.Errorf("Record(%d readings, one bad) = %v with events %v; want refused, nothing appended", len(bad), err, events)
		}
	}

	lg.fail = errors.New("log down")
	err := p.Record(t.Context(), dev, []reading.Reading{up})
	if _, ok := errors.AsType[*UnavailableError](err); !ok {
		t.Errorf("Record with the log down = %v, want *UnavailableError", err)
	}
}

// TestDeviceCannotSendConnected: "connected" is Vigil's to append; a device's record of that
// name is kept as an Unmapped raw series, which the alarm engine ignores.
func TestDeviceCannotSendConnected(t *testing.T) {
	var events []string
	lg := &stepLog{events: &events}
	p := NewPipeline(lg, time.Now, NewMetrics(prometheus.NewRegistry()))
	dev := Device{Tenant: "t", ID: "mon1", Kind: "monitor"}
	if _, err := p.Ingest(t.Context(), "http", dev, []byte(`[{"bn":"mon1:","bt":1795780800,"n":"connected","vb":true}]`), ""); err != nil {
		t.Fatalf("Ingest = %v", err)
	}
	if r := lg.appended[0]; r.Metric != "mon1:connected" || r.Flags&reading.Unmapped == 0 {
		t.Errorf("a device's \"connected\" record became %+v, want an Unmapped raw series", r)
	}
}
