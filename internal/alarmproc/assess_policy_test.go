package alarmproc

import (
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
)

// The NEWS2 assessment timeout round-trips through the API shape of a policy (seconds), and the
// defaults show theirs (alarms.md §7: 30 min HIGH, 60 min MEDIUM).
func TestPolicyDocAssessWithin(t *testing.T) {
	want := map[string]int64{"news2-high": 1800, "news2-medium": 3600, "news2-red-score": 0, "ward-high": 0}
	for _, p := range alarm.DefaultPolicies() {
		if w, ok := want[p.ID]; ok && docOf(p).AssessWithinS != w {
			t.Errorf("default %s: assess_within_s = %d, want %d", p.ID, docOf(p).AssessWithinS, w)
		}
	}
	d := PolicyDoc{ID: "t-news2", Codes: []alarm.Code{alarm.NEWS2Medium}, AssessWithinS: 2700,
		Tiers: []TierDoc{{OffsetS: 0, Recipients: []alarm.RecipientRule{{Kind: alarm.AssignedNurse}}}}}
	p, err := policyOf("t", 1, d)
	if err != nil || p.AssessWithin != 45*time.Minute || docOf(p).AssessWithinS != 2700 {
		t.Errorf("policyOf(assess_within_s 2700) = %v, %v; want 45m and back to 2700", p.AssessWithin, err)
	}
	d.AssessWithinS = -1
	if _, err := policyOf("t", 1, d); err == nil {
		t.Error("a negative assess_within_s is accepted")
	}
}
