package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// RunColdChain runs the store.ColdChainStore conformance suite against the backend that open
// creates; the store open returns must implement store.ColdChainStore.
func RunColdChain(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.ColdChainStore)
	}{
		{"PutVersions", testColdPutVersions},
		{"ListFilters", testColdList},
		{"BatchIdempotent", testColdBatch},
		{"Checkpoint", testColdCheckpoint},
		{"TenantIsolation", testColdTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			cs, ok := s.(store.ColdChainStore)
			if !ok {
				t.Fatalf("%T does not implement store.ColdChainStore", s)
			}
			tt.fn(t, cs)
		})
	}
}

func coldRec(tenant, kind, id, parent, status, doc string, at time.Time) store.ColdRecord {
	return store.ColdRecord{Tenant: tenant, Kind: kind, ID: id, Parent: parent, Status: status, Updated: at, JSON: []byte(doc)}
}

func testColdPutVersions(t *testing.T, s store.ColdChainStore) {
	ctx := t.Context()
	r, err := s.PutColdRecord(ctx, coldRec("acme", store.ColdLot, "lot-1", "unit-a", "available", `{"q":1}`, t0), 0)
	mustNoErr(t, "create lot-1", err)
	if r.Version != 1 || !r.Created.Equal(t0) || !r.Updated.Equal(t0) {
		t.Fatalf("created lot-1: version %d created %v updated %v, want 1, %v, %v", r.Version, r.Created, r.Updated, t0, t0)
	}
	_, err = s.PutColdRecord(ctx, coldRec("acme", store.ColdLot, "lot-1", "unit-a", "available", `{"q":2}`, t0), 0)
	wantErr(t, "create lot-1 again", err, store.ErrConflict)
	_, err = s.PutColdRecord(ctx, coldRec("acme", store.ColdLot, "lot-1", "unit-b", "quarantined", `{"q":2}`, t0.Add(time.Minute)), 2)
	wantErr(t, "update lot-1 with a stale version", err, store.ErrConflict)
	_, err = s.PutColdRecord(ctx, coldRec("acme", store.ColdLot, "lot-9", "", "", `{}`, t0), 3)
	wantErr(t, "update a missing lot", err, store.ErrNotFound)
	r, err = s.PutColdRecord(ctx, coldRec("acme", store.ColdLot, "lot-1", "unit-b", "quarantined", `{"q":2}`, t0.Add(time.Minute)), 1)
	mustNoErr(t, "update lot-1", err)
	got, err := s.ColdRecord(ctx, "acme", store.ColdLot, "lot-1")
	mustNoErr(t, "read lot-1", err)
	if got.Version != 2 || got.Parent != "unit-b" || got.Status != "quarantined" || string(got.JSON) != `{"q":2}` ||
		!got.Created.Equal(t0) || !got.Updated.Equal(t0.Add(time.Minute)) {
		t.Fatalf("lot-1 after update = %+v (doc %s), want version 2 in unit-b, quarantined, {\"q\":2}, created t0, updated t0+1m", got, got.JSON)
	}
	// The same id of another kind is another record.
	_, err = s.PutColdRecord(ctx, coldRec("acme", store.ColdUnit, "lot-1", "", "", `{}`, t0), 0)
	mustNoErr(t, "unit with a lot's id", err)
	_, err = s.ColdRecord(ctx, "acme", store.ColdSite, "lot-1")
	wantErr(t, "site lot-1", err, store.ErrNotFound)
}

func testColdList(t *testing.T, s store.ColdChainStore) {
	ctx := t.Context()
	for i, p := range []string{"unit-a", "unit-b", "unit-a", "unit-a"} {
		status := "available"
		if i == 3 {
			status = "quarantined"
		}
		_, err := s.PutColdRecord(ctx, coldRec("acme", store.ColdLot, fmt.Sprintf("lot-%d", 4-i), p, status, `{}`, t0), 0)
		mustNoErr(t, "create lot", err)
	}
	_, err := s.PutColdRecord(ctx, coldRec("acme", store.ColdUnit, "unit-a", "site-1", "", `{}`, t0), 0)
	mustNoErr(t, "create unit", err)
	ids := func(q store.ColdQuery) []string {
		t.Helper()
		rs, err := s.ColdRecords(ctx, q)
		mustNoErr(t, "ColdRecords", err)
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, tt := range []struct {
		q    store.ColdQuery
		want string
	}{
		{store.ColdQuery{Tenant: "acme", Kind: store.ColdLot}, "[lot-1 lot-2 lot-3 lot-4]"},
		{store.ColdQuery{Tenant: "acme", Kind: store.ColdLot, Parent: "unit-a"}, "[lot-1 lot-2 lot-4]"},
		{store.ColdQuery{Tenant: "acme", Kind: store.ColdLot, Parent: "unit-a", Status: "available"}, "[lot-2 lot-4]"},
		{store.ColdQuery{Tenant: "acme", Kind: store.ColdLot, Status: "quarantined"}, "[lot-1]"},
		{store.ColdQuery{Tenant: "acme", Kind: store.ColdLot, Limit: 2}, "[lot-1 lot-2]"},
		{store.ColdQuery{Tenant: "acme", Kind: store.ColdUnit}, "[unit-a]"},
		{store.ColdQuery{Tenant: "acme", Kind: store.ColdShipment}, "[]"},
	} {
		if got := fmt.Sprint(ids(tt.q)); got != tt.want {
			t.Errorf("ColdRecords(%+v) = %s, want %s", tt.q, got, tt.want)
		}
	}
}

func testColdBatch(t *testing.T, s store.ColdChainStore) {
	ctx := t.Context()
	b := store.ColdBatch{
		Records: []store.ColdRecord{coldRec("acme", store.ColdExcursion, "exc-1", "unit-a", "open", `{"peak":9}`, t0)},
		Ledger: []store.LedgerEntry{
			{ID: "l-2", Tenant: "acme", Lot: "lot-1", From: t0.Add(10 * time.Minute), JSON: []byte(`{"n":2}`)},
			{ID: "l-1", Tenant: "acme", Lot: "lot-1", From: t0, JSON: []byte(`{"n":1}`)},
			{ID: "l-3", Tenant: "acme", Lot: "lot-2", From: t0, JSON: []byte(`{"n":3}`)},
		},
		States: []store.ColdState{{Tenant: "acme", Source: "unit-a", JSON: []byte(`{"w":1}`)}},
	}
	mustNoErr(t, "SaveColdBatch", s.SaveColdBatch(ctx, b))
	// Replay of the same batch, with a changed ledger doc that must not replace the first.
	b.Ledger[0].JSON = []byte(`{"n":"changed"}`)
	b.Records[0].JSON, b.Records[0].Status = []byte(`{"peak":10}`), "closed"
	b.States[0].JSON = []byte(`{"w":2}`)
	mustNoErr(t, "SaveColdBatch again", s.SaveColdBatch(ctx, b))
	mustNoErr(t, "empty SaveColdBatch", s.SaveColdBatch(ctx, store.ColdBatch{}))

	led, err := s.Ledger(ctx, "acme", "lot-1")
	mustNoErr(t, "Ledger", err)
	if len(led) != 2 || led[0].ID != "l-1" || led[1].ID != "l-2" || string(led[1].JSON) != `{"n":2}` || !led[1].From.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("Ledger(lot-1) = %+v, want l-1, l-2 (first doc kept)", led)
	}
	ex, err := s.ColdRecord(ctx, "acme", store.ColdExcursion, "exc-1")
	mustNoErr(t, "excursion", err)
	if ex.Version != 2 || ex.Status != "closed" || string(ex.JSON) != `{"peak":10}` || !ex.Created.Equal(t0) {
		t.Fatalf("excursion after two batches = %+v (%s), want version 2, closed, peak 10, created t0", ex, ex.JSON)
	}
	sts, err := s.ColdStates(ctx)
	mustNoErr(t, "ColdStates", err)
	if len(sts) != 1 || sts[0].Source != "unit-a" || string(sts[0].JSON) != `{"w":2}` {
		t.Fatalf("ColdStates = %+v, want the one replaced state", sts)
	}
}

func testColdCheckpoint(t *testing.T, s store.ColdChainStore) {
	ctx := t.Context()
	check := func(what string, wantSeq uint64, wantOK bool) {
		t.Helper()
		seq, ok, err := s.ColdCheckpoint(ctx)
		mustNoErr(t, what, err)
		if seq != wantSeq || ok != wantOK {
			t.Fatalf("%s: ColdCheckpoint = %d, %v; want %d, %v", what, seq, ok, wantSeq, wantOK)
		}
	}
	check("fresh store", 0, false)
	// A batch without a checkpoint saves none.
	mustNoErr(t, "batch without checkpoint", s.SaveColdBatch(ctx, store.ColdBatch{
		States: []store.ColdState{{Tenant: "acme", Source: "unit/u1", JSON: []byte(`{"w":1}`)}}}))
	check("after a batch without checkpoint", 0, false)
	mustNoErr(t, "batch with checkpoint", s.SaveColdBatch(ctx, store.ColdBatch{
		States: []store.ColdState{{Tenant: "acme", Source: "unit/u1", JSON: []byte(`{"w":2}`)}}, Checkpoint: 42}))
	check("after checkpoint 42", 42, true)
	mustNoErr(t, "batch, checkpoint 0", s.SaveColdBatch(ctx, store.ColdBatch{
		States: []store.ColdState{{Tenant: "acme", Source: "unit/u1", JSON: []byte(`{"w":3}`)}}}))
	check("checkpoint 0 leaves it", 42, true)
	// Messages without cold-chain effects still move the checkpoint: a batch of nothing else.
	mustNoErr(t, "checkpoint only", s.SaveColdBatch(ctx, store.ColdBatch{Checkpoint: 1 << 40}))
	check("checkpoint-only batch", 1<<40, true)
	sts, err := s.ColdStates(ctx)
	mustNoErr(t, "ColdStates", err)
	if len(sts) != 1 || string(sts[0].JSON) != `{"w":3}` {
		t.Fatalf("ColdStates = %+v, want the one state {\"w\":3} (the checkpoint is no source state)", sts)
	}
}

func testColdTenantIsolation(t *testing.T, s store.ColdChainStore) {
	ctx := t.Context()
	_, err := s.PutColdRecord(ctx, coldRec("acme", store.ColdLot, "lot-1", "unit-a", "available", `{}`, t0), 0)
	mustNoErr(t, "acme lot-1", err)
	_, err = s.PutColdRecord(ctx, coldRec("globex", store.ColdLot, "lot-1", "unit-a", "available", `{"g":1}`, t0), 0)
	mustNoErr(t, "globex lot-1 (same id, other tenant)", err)
	mustNoErr(t, "ledger", s.SaveColdBatch(ctx, store.ColdBatch{Ledger: []store.LedgerEntry{
		{ID: "acme-l", Tenant: "acme", Lot: "lot-1", From: t0, JSON: []byte(`{}`)}}}))
	r, err := s.ColdRecord(ctx, "globex", store.ColdLot, "lot-1")
	mustNoErr(t, "globex lot-1", err)
	if string(r.JSON) != `{"g":1}` || r.Tenant != "globex" {
		t.Fatalf("globex lot-1 = %+v, want its own document", r)
	}
	rs, err := s.ColdRecords(ctx, store.ColdQuery{Tenant: "initech", Kind: store.ColdLot})
	mustNoErr(t, "initech lots", err)
	if len(rs) != 0 {
		t.Fatalf("initech sees %d lots, want 0", len(rs))
	}
	led, err := s.Ledger(ctx, "globex", "lot-1")
	mustNoErr(t, "globex ledger", err)
	if len(led) != 0 {
		t.Fatalf("globex sees acme's ledger: %+v", led)
	}
}
