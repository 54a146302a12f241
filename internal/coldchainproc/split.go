package coldchainproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// Split is the body of a lot split (spec 3.7).
type Split struct {
	ID       string  `json:"id"`
	Number   string  `json:"number"`
	Quantity float64 `json:"quantity"`
	To       struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"to"`
	Reason string `json:"reason"`
}

// SplitLot takes quantity out of a lot into a new lot at another location. The new lot starts
// with a copy of the parent's consumed budget (spec 3.7: each part copies the totals, then
// they diverge), recorded as "carried" ledger lines so that its report adds up.
func (s *Service) SplitLot(ctx context.Context, a Actor, tenant, id string, sp Split) (LotView, error) {
	if sp.Reason == "" {
		return LotView{}, invalidf("reason: required for a split")
	}
	parent, ver, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
	if err != nil {
		return LotView{}, err
	}
	if !(sp.Quantity > 0) || sp.Quantity >= parent.Quantity {
		return LotView{}, invalidf("quantity: %v must be more than 0 and less than the lot's %v", sp.Quantity, parent.Quantity)
	}
	if sp.Number == "" {
		sp.Number = parent.Number
	}
	if sp.To.Kind == "" {
		sp.To.Kind, sp.To.ID = parent.Location.Kind, parent.Location.ID
	}
	if err := s.checkLocation(ctx, tenant, sp.To.Kind, sp.To.ID); err != nil {
		return LotView{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	child := Lot{ID: sp.ID, Number: sp.Number, Product: parent.Product, Quantity: sp.Quantity, UOM: parent.UOM, Expiry: parent.Expiry,
		Status: parent.Status, Location: Location{Kind: sp.To.Kind, ID: sp.To.ID, Since: now},
		Locations: []Custody{{Kind: sp.To.Kind, ID: sp.To.ID, From: now}}, Quarantine: append([]QuarantineReason{}, parent.Quarantine...)}
	if err := child.validate(); err != nil {
		return LotView{}, err
	}
	st, err := s.budgetOf(ctx, tenant, id)
	if err != nil {
		return LotView{}, err
	}
	if _, err := s.put(ctx, tenant, store.ColdLot, child.ID, child.Location.ID, child.Status, child, 0); err != nil {
		return LotView{}, err
	}
	doc, err := json.Marshal(lotBudget{Product: parent.Product, State: st.Split()})
	if err != nil {
		return LotView{}, err
	}
	if _, err := s.cfg.Store.PutColdRecord(ctx, store.ColdRecord{Tenant: tenant, Kind: store.ColdLotBudget, ID: child.ID,
		Parent: parent.Product, Updated: now, JSON: doc}, 0); err != nil && !errors.Is(err, store.ErrConflict) {
		return LotView{}, err
	}
	var led []store.LedgerEntry
	if p, err := s.Product(ctx, tenant, parent.Product); err == nil {
		for _, r := range p.profile().Rules {
			c := st.Consumed[r.ID]
			if c == 0 {
				continue
			}
			line, _ := json.Marshal(LedgerLine{Rule: r.ID, Band: r.Band.String(), Source: "split:" + id, From: now, To: now,
				ChargedS: c.Seconds(), Basis: "carried"})
			led = append(led, store.LedgerEntry{ID: "led-split-" + child.ID + "-" + r.ID, Tenant: tenant, Lot: child.ID, From: now, JSON: line})
		}
	}
	if err := s.cfg.Store.SaveColdBatch(ctx, store.ColdBatch{Ledger: led}); err != nil {
		return LotView{}, err
	}
	old := parent.Quantity
	parent.Quantity -= sp.Quantity
	parent = stripMeta(parent)
	if _, err := s.put(ctx, tenant, store.ColdLot, id, parent.Location.ID, parent.Status, parent, ver); err != nil {
		return LotView{}, fmt.Errorf("split %s: reduce the parent: %w", id, err)
	}
	s.proc.invalidate(tenant)
	if err := s.record(ctx, tenant, a.audit(), "lot.split", "lot:"+id, sp.Reason, map[string]any{"quantity": old},
		map[string]any{"quantity": parent.Quantity, "child": child.ID, "child_quantity": sp.Quantity, "to": child.Location}); err != nil {
		return LotView{}, err
	}
	if err := s.record(ctx, tenant, a.audit(), "lot.create", "lot:"+child.ID, "split from "+id, nil, child); err != nil {
		return LotView{}, err
	}
	return s.Lot(ctx, tenant, child.ID)
}
