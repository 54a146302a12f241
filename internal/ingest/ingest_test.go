package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/reading"
)

type stepLog struct {
	appended []reading.Reading
	fail     error
	events   *[]string
}

func (l *stepLog) Append(_ context.Context, _, _ string, rs []reading.Reading) error {
	*l.events = append(*l.events, fmt.Sprintf("append %d", len(rs)))
	if l.fail != nil {
		return l.fail
	}
	l.appended = append(l.appended, rs...)
	return nil
}

type stepPacer struct{ events *[]string }

func (p stepPacer) Pace(_ context.Context, received time.Time) {
	*p.events = append(*p.events, "pace "+received.Format(time.RFC3339))
}

// TestIngestPacesAfterTheAppend: the pacer is asked after the pack is durable, with the
// pack's receive time, and not at all for a pack that was refused or not appended.
func TestIngestPacesAfterTheAppend(t *testing.T) {
	var events []string
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	lg := &stepLog{events: &events}
	p := NewPipeline(lg, func() time.Time { return now }, NewMetrics(prometheus.NewRegistry()))
	p.PaceBy(stepPacer{&events})
	dev := Device{Tenant: "t", ID: "mon1", Kind: "monitor"}
	n, err := p.Ingest(t.Context(), "http", dev, []byte(`[{"bn":"mon1:","bt":1795780800,"n":"hr","u":"beat/min","v":60}]`), "application/senml+json")
	if err != nil || n != 1 {
		t.Fatalf("Ingest = %d, %v", n, err)
	}
	if fmt.Sprint(events) != "[append 1 pace 2026-11-27T12:00:00Z]" {
		t.Errorf("events %v, want the append then pacing at the receive time", events)
	}
	if got := lg.appended[0].Received; !got.Equal(now) {
		t.Errorf("reading received %v, want %v", got, now)
	}
	events = nil
	if _, err := p.Ingest(t.Context(), "http", dev, []byte(`[{"n":"hr","u":"mmHg","v":60}]`), ""); err == nil {
		t.Fatal("a malformed pack was accepted")
	}
	lg.fail = errors.New("log down")
	if _, err := p.Ingest(t.Context(), "http", dev, []byte(`[{"bn":"mon1:","bt":1795780800,"n":"hr","u":"beat/min","v":60}]`), ""); err == nil {
		t.Fatal("a pack the log refused was accepted")
	}
	if fmt.Sprint(events) != "[append 1]" {
		t.Errorf("events %v, want no pacing for refused packs", events)
	}
}
