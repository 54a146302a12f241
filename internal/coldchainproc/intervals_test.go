package coldchainproc

import (
	"testing"
	"time"
)

// TestExpectedInterval: once the processor has indexed the tenant, the alarm engine learns a
// unit sensor's logging interval from the unit's limits, and that its door contact is sent on
// change; devices no unit names are left to the engine's own learning.
func TestExpectedInterval(t *testing.T) {
	e := newEnv(t)
	e.unit("u", Limits{LowC: 2, HighC: 8, HysteresisC: 0.3, AlarmDelayS: 0, IntervalS: 300})
	if d := e.svc.ExpectedInterval(tenant, "u-logger", "temp_ambient"); d != 0 {
		t.Errorf("before the first reading: %v, want 0 (not indexed yet)", d)
	}
	e.feed(one(temp("u-logger", at(0), 5)))
	for _, c := range []struct {
		device, metric string
		want           time.Duration
	}{
		{"u-logger", "temp_ambient", 5 * time.Minute},
		{"u-logger", "door-open", -1},
		{"u-logger", "hr", 0},
		{"other", "temp_ambient", 0},
	} {
		if d := e.svc.ExpectedInterval(tenant, c.device, c.metric); d != c.want {
			t.Errorf("ExpectedInterval(%s, %s) = %v, want %v", c.device, c.metric, d, c.want)
		}
	}
	if d := e.svc.ExpectedInterval("another-tenant", "u-logger", "temp_ambient"); d != 0 {
		t.Errorf("another tenant: %v, want 0", d)
	}
}
