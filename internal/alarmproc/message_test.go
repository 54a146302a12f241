package alarmproc

import (
	"testing"

	"github.com/vigil-iomt/vigil/internal/alarm"
)

// TestMessage: the alarm's one-line message shows a physiological value with its limit, a
// technical alarm without a value by its words alone, and an advisory's value (a NEWS2 score)
// without a limit it does not have.
func TestMessage(t *testing.T) {
	for _, c := range []struct {
		a    alarm.Alarm
		want string
	}{
		{alarm.Alarm{Code: alarm.SpO2Low, Kind: alarm.Physiological, LastValue: 87, UCUM: "%", Limit: 90}, "SPO2 LOW: 87 % (limit 90)"},
		{alarm.Alarm{Code: alarm.NoData, Kind: alarm.Technical}, "NO DATA"},
		{alarm.Alarm{Code: alarm.NEWS2High, Kind: alarm.Advisory, LastValue: 13}, "NEWS2 HIGH: 13"},
	} {
		if got := message(c.a); got != c.want {
			t.Errorf("message(%s) = %q, want %q", c.a.Code, got, c.want)
		}
	}
}
