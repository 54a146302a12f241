package store

import (
	"encoding/json"
	"testing"
	"time"
)

// TestEncounterJSON: an encounter's JSON names its current place (the open stay, else the last
// one) next to the stays, and still decodes into an Encounter.
func TestEncounterJSON(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	first := BedStay{Ward: "ward-a", Bed: "ward-a-07", From: t0, To: t0.Add(time.Hour)}
	second := BedStay{Ward: "ward-b", Bed: "ward-b-03", From: t0.Add(time.Hour)}
	for _, tt := range []struct {
		name string
		e    Encounter
		want string
	}{
		{"open, stays in order", Encounter{ID: "enc-1", Patient: "p", Admitted: t0, Stays: []BedStay{first, second}},
			`{"id":"enc-1","patient":"p","admitted":"2026-11-27T09:00:00Z","stays":[{"ward":"ward-a","bed":"ward-a-07","from":"2026-11-27T09:00:00Z","to":"2026-11-27T10:00:00Z"},{"ward":"ward-b","bed":"ward-b-03","from":"2026-11-27T10:00:00Z"}],"ward":"ward-b","bed":"ward-b-03"}`},
		{"open stay listed first", Encounter{ID: "enc-1", Patient: "p", Admitted: t0, Stays: []BedStay{second, first}},
			`{"id":"enc-1","patient":"p","admitted":"2026-11-27T09:00:00Z","stays":[{"ward":"ward-b","bed":"ward-b-03","from":"2026-11-27T10:00:00Z"},{"ward":"ward-a","bed":"ward-a-07","from":"2026-11-27T09:00:00Z","to":"2026-11-27T10:00:00Z"}],"ward":"ward-b","bed":"ward-b-03"}`},
		{"discharged: the last stay", Encounter{ID: "enc-2", Patient: "p", Admitted: t0, Discharged: t0.Add(2 * time.Hour),
			Stays: []BedStay{first, {Ward: "ward-b", Bed: "ward-b-03", From: t0.Add(time.Hour), To: t0.Add(2 * time.Hour)}}},
			`{"id":"enc-2","patient":"p","admitted":"2026-11-27T09:00:00Z","discharged":"2026-11-27T11:00:00Z","stays":[{"ward":"ward-a","bed":"ward-a-07","from":"2026-11-27T09:00:00Z","to":"2026-11-27T10:00:00Z"},{"ward":"ward-b","bed":"ward-b-03","from":"2026-11-27T10:00:00Z","to":"2026-11-27T11:00:00Z"}],"ward":"ward-b","bed":"ward-b-03"}`},
		{"no stay", Encounter{ID: "enc-3", Patient: "p", Admitted: t0},
			`{"id":"enc-3","patient":"p","admitted":"2026-11-27T09:00:00Z","stays":null}`},
	} {
		b, err := json.Marshal(tt.e)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, b, tt.want)
		}
		var back Encounter
		if err := json.Unmarshal(b, &back); err != nil || back.ID != tt.e.ID || len(back.Stays) != len(tt.e.Stays) || !back.Discharged.Equal(tt.e.Discharged) {
			t.Errorf("%s: decoded %+v, %v", tt.name, back, err)
		}
	}
}
