package coldchainproc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/coldchain"
	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/store"
)

// ShipmentDispositionV1 is the v1 layout of a shipment release/reject decision, the shipment
// counterpart of esign.LotDispositionV1: report_sha256 is the SHA-256 of the canonical JSON
// release report, decision "released" or "rejected".
var ShipmentDispositionV1 = esign.Schema{
	Type:     "shipment.disposition",
	Version:  1,
	IDField:  "shipment_id",
	Fields:   []string{"shipment_id", "lane", "decision", "report_sha256"},
	Meanings: []esign.Meaning{esign.ApprovedForRelease, esign.Rejected},
}

// Record kinds that can be reviewed and signed.
const (
	ReviewLot      = "lot"
	ReviewShipment = "shipment"
)

// sessions remembers, per session token, the last request and the last signing, for the
// continuity rules of §11.200 (a process restart forgets them: the next signing then needs
// every component, the conservative side).
type sessions struct {
	idle time.Duration
	mu   sync.Mutex // guards m
	m    map[string]*sessionUse
}

type sessionUse struct{ lastActivity, lastSigning time.Time }

func newSessions(idle time.Duration) *sessions {
	if idle <= 0 {
		idle = 15 * time.Minute
	}
	return &sessions{m: map[string]*sessionUse{}, idle: idle}
}

// touch records activity of session token at now and returns the previous use. An idle gap
// ends the continuous period for good: signings before it no longer count as earlier ones.
func (s *sessions) touch(token string, now time.Time) sessionUse {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.m[token]
	if u == nil {
		u = &sessionUse{}
		s.m[token] = u
		if len(s.m) > 100000 { // forget old sessions (they are expired anyway)
			for k, v := range s.m {
				if now.Sub(v.lastActivity) > 24*time.Hour {
					delete(s.m, k)
				}
			}
		}
	}
	prev := *u
	if !u.lastActivity.IsZero() && now.Sub(u.lastActivity) >= s.idle {
		u.lastSigning = time.Time{}
	}
	u.lastActivity = now
	return prev
}

func (s *sessions) signed(token string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.m[token]; u != nil {
		u.lastSigning = now
	}
}

// Touch records that the actor's session made an authenticated request now.
func (s *Service) Touch(a Actor) { s.sess.touch(a.TokenHash, s.now()) }

// SignatureView is a stored signature with its verification state.
type SignatureView struct {
	ID             string    `json:"id"`
	SignerID       string    `json:"signer_id"`
	PrintedName    string    `json:"printed_name"`
	Meaning        string    `json:"meaning"`
	Reason         string    `json:"reason"`
	SignedAt       time.Time `json:"signed_at"`
	DisplayTZ      string    `json:"display_tz"`
	Manifestation  string    `json:"manifestation"`
	RecordType     string    `json:"record_type"`
	RecordID       string    `json:"record_id"`
	RecordHash     string    `json:"record_hash"`
	ReportSHA256   string    `json:"report_sha256"`
	AsOf           time.Time `json:"as_of"`
	Method         string    `json:"method"`
	FirstInSession bool      `json:"first_in_session"`
	State          string    `json:"state"`
	StateMessage   string    `json:"state_message"`
}

// storedSignature is the document of a store.ColdSignature record.
type storedSignature struct {
	Sig          esign.Signature `json:"sig"`
	AsOf         time.Time       `json:"as_of"`
	ReportSHA256 string          `json:"report_sha256"`
	Decision     string          `json:"decision"`
}

// Requirement is what the next signing in the caller's session needs.
type Requirement struct {
	UserID         bool   `json:"user_id"`
	Password       bool   `json:"password"`
	FirstInSession bool   `json:"first_in_session"`
	Break          string `json:"break"`
}

// ReviewRecord names the record under review.
type ReviewRecord struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Version int64  `json:"version"`
}

// Review is what the QA release screen shows (docs/coldchain.md).
type Review struct {
	Record         ReviewRecord    `json:"record"`
	AsOf           time.Time       `json:"as_of"`
	ReportSHA256   string          `json:"report_sha256"`
	Report         json.RawMessage `json:"report"`
	Status         string          `json:"status"`
	CanSign        bool            `json:"can_sign"`
	Blockers       []string        `json:"blockers"`
	Meanings       []string        `json:"meanings"`
	Requirement    Requirement     `json:"requirement"`
	SignatureState string          `json:"signature_state"`
	Signatures     []SignatureView `json:"signatures"`
}

// Signature states of a record as a whole.
const (
	SigNone        = "none"
	SigValid       = "valid"
	SigInvalidated = "invalidated"
)

// reportExcursion is an excursion as the release report holds it.
type reportExcursion struct {
	ID              string     `json:"id"`
	Source          string     `json:"source"`
	Direction       string     `json:"direction"`
	Start           time.Time  `json:"start"`
	OngoingAtAsOf   bool       `json:"ongoing_at_as_of"`
	End             *time.Time `json:"end,omitempty"`
	DurationS       float64    `json:"duration_s,omitempty"`
	PeakC           float64    `json:"peak_c,omitempty"`
	TimeOutOfRangeS float64    `json:"time_out_of_range_s,omitempty"`
	DegreeMinutes   float64    `json:"degree_minutes,omitempty"`
	LowerBound      bool       `json:"lower_bound,omitempty"`
	DoorOpen        bool       `json:"door_open,omitempty"`
	Ack             *Ack       `json:"ack"`
}

type reportBudget struct {
	Rule      string  `json:"rule"`
	Kind      string  `json:"kind"`
	Band      string  `json:"band"`
	LimitS    int64   `json:"limit_s"`
	ConsumedS float64 `json:"consumed_s"`
	Lines     int     `json:"ledger_lines"`
}

type reportDecision struct {
	Signature string    `json:"signature"`
	Meaning   string    `json:"meaning"`
	SignedAt  time.Time `json:"signed_at"`
	Signer    string    `json:"signer"`
}

type reportLot struct {
	ID       string         `json:"id"`
	Number   string         `json:"number"`
	Product  string         `json:"product"`
	Quantity float64        `json:"quantity"`
	UOM      string         `json:"uom"`
	Expiry   string         `json:"expiry"`
	Custody  []Custody      `json:"custody"`
	Budget   []reportBudget `json:"budget"`
}

// lotReport is the canonical content a lot disposition is bound to: everything the decision
// rests on, as of AsOf. It leaves out what the decision itself changes (status) and what moves
// on its own after AsOf (later readings, the provisional metrics of an excursion still open).
type lotReport struct {
	Format     string            `json:"format"`
	AsOf       time.Time         `json:"as_of"`
	Lot        reportLot         `json:"lot"`
	Product    *Product          `json:"product"`
	Excursions []reportExcursion `json:"excursions"`
	Decisions  []reportDecision  `json:"decisions"`
}

type shipmentReport struct {
	Format     string            `json:"format"`
	AsOf       time.Time         `json:"as_of"`
	Shipment   reportShipment    `json:"shipment"`
	Lots       []reportLot       `json:"lots"`
	Excursions []reportExcursion `json:"excursions"`
	Decisions  []reportDecision  `json:"decisions"`
}

type reportShipment struct {
	ID          string       `json:"id"`
	Carrier     string       `json:"carrier"`
	Lane        Lane         `json:"lane"`
	Limits      Limits       `json:"limits"`
	Loggers     []Sensor     `json:"loggers"`
	Legs        []Leg        `json:"legs"`
	Transitions []Transition `json:"transitions"`
}

// signed is a record under review, loaded.
type signed struct {
	kind    string
	schema  esign.Schema
	id      string
	version int64
	status  string
	lot     Lot
	ship    Shipment
	tz      string
}

func (s *Service) loadSigned(ctx context.Context, tenant, kind, id string) (signed, error) {
	switch kind {
	case ReviewLot:
		l, ver, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
		if err != nil {
			return signed{}, err
		}
		return signed{kind: kind, schema: esign.LotDispositionV1, id: id, version: ver, status: l.Status, lot: l,
			tz: s.siteZone(ctx, tenant, l.Location)}, nil
	case ReviewShipment:
		sh, ver, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, id)
		if err != nil {
			return signed{}, err
		}
		tz := "UTC"
		if site, err := s.Site(ctx, tenant, sh.Lane.Destination); err == nil && site.Timezone != "" {
			tz = site.Timezone
		}
		return signed{kind: kind, schema: ShipmentDispositionV1, id: id, version: ver, status: string(sh.State), ship: sh, tz: tz}, nil
	}
	return signed{}, invalidf("record kind %q is not lot or shipment", kind)
}

func (s *Service) siteZone(ctx context.Context, tenant string, loc Location) string {
	site := ""
	switch loc.Kind {
	case AtUnit:
		if u, _, err := load[Unit](ctx, s.cfg.Store, tenant, store.ColdUnit, loc.ID); err == nil {
			site = u.Site
		}
	case AtShipment:
		if sh, _, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, loc.ID); err == nil {
			site = sh.Lane.Destination
		}
	}
	if st, err := s.Site(ctx, tenant, site); err == nil && st.Timezone != "" {
		return st.Timezone
	}
	return "UTC"
}

// custodyAsOf clips a custody history to what was known at asOf.
func custodyAsOf(cs []Custody, asOf time.Time) []Custody {
	out := []Custody{}
	for _, c := range cs {
		if !c.From.Before(asOf) {
			continue
		}
		if c.To != nil && c.To.After(asOf) {
			c.To = nil
		}
		out = append(out, c)
	}
	return out
}

func (s *Service) reportLot(ctx context.Context, tenant string, l Lot, prod *Product, asOf time.Time) (reportLot, error) {
	rl := reportLot{ID: l.ID, Number: l.Number, Product: l.Product, Quantity: l.Quantity, UOM: l.UOM, Expiry: l.Expiry,
		Custody: custodyAsOf(l.Locations, asOf), Budget: []reportBudget{}}
	led, err := s.ledger(ctx, tenant, l.ID)
	if err != nil {
		return rl, err
	}
	if prod != nil {
		for _, r := range prod.profile().Rules {
			rb := reportBudget{Rule: r.ID, Kind: r.Kind.String(), Band: r.Band.String(), LimitS: int64(r.Limit / time.Second)}
			for _, e := range led {
				if e.Rule == r.ID && !e.To.After(asOf) {
					rb.ConsumedS += e.ChargedS
					rb.Lines++
				}
			}
			rl.Budget = append(rl.Budget, rb)
		}
	}
	return rl, nil
}

func (s *Service) ledger(ctx context.Context, tenant, lot string) ([]LedgerLine, error) {
	es, err := s.cfg.Store.Ledger(ctx, tenant, lot)
	if err != nil {
		return nil, err
	}
	out := make([]LedgerLine, 0, len(es))
	for _, e := range es {
		var l LedgerLine
		if err := json.Unmarshal(e.JSON, &l); err != nil {
			return nil, fmt.Errorf("decode ledger line %s: %w", e.ID, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// custodyExcursions returns the excursions of the sources a lot was in, that started while
// it was there.
func (s *Service) custodyExcursions(ctx context.Context, tenant string, cs []Custody) ([]Excursion, error) {
	var out []Excursion
	seen := map[string]bool{}
	for _, c := range cs {
		exs, err := s.excursions(ctx, tenant, c.ID, 0)
		if err != nil {
			return nil, err
		}
		for _, e := range exs {
			if e.SourceKind != c.Kind || seen[e.ID] {
				continue
			}
			inside := !e.Start.Before(c.From) && (c.To == nil || e.Start.Before(*c.To))
			overlaps := e.Start.Before(c.From) && (e.End == nil || e.End.After(c.From))
			if inside || overlaps {
				seen[e.ID] = true
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b Excursion) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func reportExcursions(exs []Excursion, asOf time.Time) []reportExcursion {
	out := []reportExcursion{}
	for _, e := range exs {
		if !e.Start.Before(asOf) {
			continue
		}
		re := reportExcursion{ID: e.ID, Source: e.Source, Direction: e.Direction, Start: e.Start}
		if e.End != nil && !e.End.After(asOf) {
			re.End, re.DurationS, re.PeakC, re.TimeOutOfRangeS = e.End, e.DurationS, e.PeakC, e.TimeOutOfRangeS
			re.DegreeMinutes, re.LowerBound, re.DoorOpen = e.DegreeMinutes, e.LowerBound, e.DoorOpen
		} else {
			re.OngoingAtAsOf = true
		}
		if e.Ack != nil && !e.Ack.At.After(asOf) {
			re.Ack = e.Ack
		}
		out = append(out, re)
	}
	return out
}

func (s *Service) signatures(ctx context.Context, tenant, id string) ([]storedSignature, []string, error) {
	recs, err := s.cfg.Store.ColdRecords(ctx, store.ColdQuery{Tenant: tenant, Kind: store.ColdSignature, Parent: id, Limit: 10000})
	if err != nil {
		return nil, nil, err
	}
	var out []storedSignature
	var ids []string
	for _, r := range recs {
		var ss storedSignature
		if err := json.Unmarshal(r.JSON, &ss); err != nil {
			return nil, nil, fmt.Errorf("decode signature %s: %w", r.ID, err)
		}
		out = append(out, ss)
		ids = append(ids, r.ID)
	}
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return out[a].Sig.SignedAt.Compare(out[b].Sig.SignedAt) })
	so := make([]storedSignature, len(out))
	io := make([]string, len(out))
	for i, k := range order {
		so[i], io[i] = out[k], ids[k]
	}
	return so, io, nil
}

// report builds the canonical report JSON of a record as of asOf and its SHA-256.
func (s *Service) report(ctx context.Context, tenant string, r signed, asOf time.Time) ([]byte, string, error) {
	sigs, _, err := s.signatures(ctx, tenant, r.id)
	if err != nil {
		return nil, "", err
	}
	var decisions []reportDecision
	for _, sg := range sigs {
		if sg.Sig.SignedAt.Before(asOf) {
			decisions = append(decisions, reportDecision{Signature: sg.Sig.ID, Meaning: string(sg.Sig.Meaning), SignedAt: sg.Sig.SignedAt,
				Signer: sg.Sig.SignerID})
		}
	}
	if decisions == nil {
		decisions = []reportDecision{}
	}
	var v any
	switch r.kind {
	case ReviewLot:
		var prod *Product
		if p, err := s.Product(ctx, tenant, r.lot.Product); err == nil {
			p.Meta = Meta{}
			prod = &p
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, "", err
		}
		rl, err := s.reportLot(ctx, tenant, r.lot, prod, asOf)
		if err != nil {
			return nil, "", err
		}
		exs, err := s.custodyExcursions(ctx, tenant, rl.Custody)
		if err != nil {
			return nil, "", err
		}
		v = lotReport{Format: "vigil.lot-release-report/1", AsOf: asOf, Lot: rl, Product: prod,
			Excursions: reportExcursions(exs, asOf), Decisions: decisions}
	case ReviewShipment:
		sh := r.ship
		rs := reportShipment{ID: sh.ID, Carrier: sh.Carrier, Lane: sh.Lane, Limits: sh.Limits, Loggers: sh.Loggers, Legs: sh.Legs,
			Transitions: []Transition{}}
		for _, t := range sh.Transitions {
			if t.At.Before(asOf) && t.Action != coldchain.Release && t.Action != coldchain.Reject {
				rs.Transitions = append(rs.Transitions, t)
			}
		}
		lots := []reportLot{}
		for _, id := range sh.Lots {
			l, _, err := load[Lot](ctx, s.cfg.Store, tenant, store.ColdLot, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, "", err
			}
			var prod *Product
			if p, err := s.Product(ctx, tenant, l.Product); err == nil {
				prod = &p
			}
			rl, err := s.reportLot(ctx, tenant, l, prod, asOf)
			if err != nil {
				return nil, "", err
			}
			lots = append(lots, rl)
		}
		exs, err := s.excursions(ctx, tenant, sh.ID, 0)
		if err != nil {
			return nil, "", err
		}
		slices.Reverse(exs)
		v = shipmentReport{Format: "vigil.shipment-release-report/1", AsOf: asOf, Shipment: rs, Lots: lots,
			Excursions: reportExcursions(exs, asOf), Decisions: decisions}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("encode release report of %s: %w", r.id, err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

func decisionOf(m esign.Meaning) string {
	if m == esign.Rejected {
		return "rejected"
	}
	return "released"
}

func (r signed) fields(decision, reportSHA string) map[string]string {
	if r.kind == ReviewLot {
		return map[string]string{"lot_id": r.id, "product": r.lot.Product, "decision": decision, "report_sha256": reportSHA}
	}
	return map[string]string{"shipment_id": r.id, "lane": r.ship.Lane.ID, "decision": decision, "report_sha256": reportSHA}
}

// verify returns the views of a record's signatures, each verified against the record as it
// is now (its report recomputed at the signature's as_of).
func (s *Service) verify(ctx context.Context, tenant string, r signed) ([]SignatureView, error) {
	sigs, _, err := s.signatures(ctx, tenant, r.id)
	if err != nil {
		return nil, err
	}
	out := []SignatureView{}
	for _, sg := range sigs {
		v := SignatureView{ID: sg.Sig.ID, SignerID: sg.Sig.SignerID, PrintedName: sg.Sig.PrintedName, Meaning: string(sg.Sig.Meaning),
			Reason: sg.Sig.Reason, SignedAt: sg.Sig.SignedAt, DisplayTZ: sg.Sig.DisplayTZ, RecordType: sg.Sig.RecordType,
			RecordID: sg.Sig.RecordID, RecordHash: sg.Sig.RecordHash, ReportSHA256: sg.ReportSHA256, AsOf: sg.AsOf,
			Method: sg.Sig.Method, FirstInSession: sg.Sig.FirstInSession}
		loc, err := time.LoadLocation(sg.Sig.DisplayTZ)
		if err != nil {
			loc = time.UTC
		}
		v.Manifestation = esign.Manifest(sg.Sig, loc)
		state := esign.Invalid
		if s.cfg.Keyring != nil {
			_, sha, err := s.report(ctx, tenant, r, sg.AsOf)
			if err != nil {
				return nil, err
			}
			cur, err := r.schema.Record(r.version, r.fields(decisionOf(sg.Sig.Meaning), sha))
			if err != nil {
				return nil, err
			}
			state, _ = s.cfg.Keyring.Verify(sg.Sig, cur)
		}
		v.State, v.StateMessage = state.String(), state.Message()
		out = append(out, v)
	}
	return out, nil
}

// blockers says why a record cannot be released now ("" meaning for reject: only state).
func (s *Service) blockers(ctx context.Context, tenant string, r signed, sigState string, release bool) ([]string, error) {
	var b []string
	decided := false
	switch r.kind {
	case ReviewLot:
		switch r.status {
		case LotQuarantined:
		case LotReleased, LotRejected:
			decided = true
		default:
			b = append(b, fmt.Sprintf("lot is %s; a decision needs a quarantined lot", r.status))
		}
	case ReviewShipment:
		switch coldchain.ShipmentState(r.status) {
		case coldchain.Quarantined:
		case coldchain.Released, coldchain.Rejected:
			decided = true
		default:
			b = append(b, fmt.Sprintf("shipment is %s; release needs QUARANTINED", r.status))
		}
	}
	if decided && sigState == SigValid {
		b = append(b, fmt.Sprintf("already %s with a valid signature", r.status))
	}
	if release {
		var exs []Excursion
		var err error
		if r.kind == ReviewLot {
			exs, err = s.custodyExcursions(ctx, tenant, r.lot.Locations)
		} else {
			exs, err = s.excursions(ctx, tenant, r.id, 0)
		}
		if err != nil {
			return nil, err
		}
		n := 0
		for _, e := range exs {
			if e.Ack == nil {
				n++
			}
		}
		if n > 0 {
			b = append(b, fmt.Sprintf("%d excursion(s) not acknowledged", n))
		}
	}
	return b, nil
}

func sigState(vs []SignatureView) string {
	if len(vs) == 0 {
		return SigNone
	}
	if vs[len(vs)-1].State == esign.Valid.String() {
		return SigValid
	}
	return SigInvalidated
}

func (s *Service) requirement(ctx context.Context, a Actor, prev sessionUse, now time.Time) (esign.Requirement, error) {
	start := time.Time{}
	if a.TokenHash != "" {
		tok, err := s.cfg.Store.Token(ctx, a.TokenHash)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return esign.Requirement{}, err
		}
		start = tok.Created
	}
	return s.cfg.Session.Require(esign.Session{UserID: a.UserID, Start: start, LastActivity: prev.lastActivity,
		LastSigning: prev.lastSigning}, now), nil
}

// Review returns the QA review of a lot or shipment.
func (s *Service) Review(ctx context.Context, a Actor, tenant, kind, id string) (Review, error) {
	now := s.now().UTC()
	prev := s.sess.touch(a.TokenHash, now)
	r, err := s.loadSigned(ctx, tenant, kind, id)
	if err != nil {
		return Review{}, err
	}
	asOf := now.Truncate(time.Millisecond)
	rep, sha, err := s.report(ctx, tenant, r, asOf)
	if err != nil {
		return Review{}, err
	}
	sigs, err := s.verify(ctx, tenant, r)
	if err != nil {
		return Review{}, err
	}
	state := sigState(sigs)
	bl, err := s.blockers(ctx, tenant, r, state, true)
	if err != nil {
		return Review{}, err
	}
	req, err := s.requirement(ctx, a, prev, now)
	if err != nil {
		return Review{}, err
	}
	if bl == nil {
		bl = []string{}
	}
	return Review{Record: ReviewRecord{Type: r.schema.Type, ID: id, Version: r.version}, AsOf: asOf, ReportSHA256: sha, Report: rep,
		Status: r.status, CanSign: len(bl) == 0, Blockers: bl,
		Meanings: []string{string(esign.ApprovedForRelease), string(esign.Rejected)},
		Requirement: Requirement{UserID: req.UserID, Password: req.Password || req.UserID, FirstInSession: req.First,
			Break: req.Break.String()},
		SignatureState: state, Signatures: sigs}, nil
}

// SignRequest is the body of a signing.
type SignRequest struct {
	Meaning      string `json:"meaning"`
	UserID       string `json:"user_id"`
	Password     string `json:"password"`
	Reason       string `json:"reason"`
	AsOf         string `json:"as_of"`
	ReportSHA256 string `json:"report_sha256"`
}

// SignResult is the answer of a signing.
type SignResult struct {
	Signature SignatureView `json:"signature"`
	Status    string        `json:"status,omitempty"`
	State     string        `json:"state,omitempty"`
}

// MaxReviewAge is how old a review may be when it is signed.
const MaxReviewAge = time.Hour

// Sign releases or rejects a lot or shipment with an electronic signature (part11.md 6): the
// signer re-authenticates per §11.200, failures count toward lockout with failed logins, the
// signature binds the record's content as reviewed, and the decision is audited.
func (s *Service) Sign(ctx context.Context, a Actor, tenant, kind, id string, req SignRequest) (SignResult, error) {
	now := s.now().UTC()
	prev := s.sess.touch(a.TokenHash, now)
	meaning := esign.Meaning(req.Meaning)
	if meaning != esign.ApprovedForRelease && meaning != esign.Rejected {
		return SignResult{}, invalidf("meaning: %q is not %q or %q", req.Meaning, esign.ApprovedForRelease, esign.Rejected)
	}
	asOf, err := time.Parse(time.RFC3339Nano, req.AsOf)
	if err != nil {
		return SignResult{}, invalidf("as_of: %q is not an RFC 3339 time (send the review's as_of)", req.AsOf)
	}
	asOf = asOf.UTC()
	if len(req.ReportSHA256) != 64 || strings.Trim(req.ReportSHA256, "0123456789abcdef") != "" {
		return SignResult{}, invalidf("report_sha256: want the review's 64 lowercase hex digits")
	}
	if s.cfg.Keyring == nil {
		return SignResult{}, errors.New("coldchain: no signing key configured")
	}
	u, err := s.cfg.Store.User(ctx, tenant, a.UserID)
	if err != nil {
		return SignResult{}, fmt.Errorf("signer %s: %w", a.UserID, err)
	}
	if now.Before(u.LockedUntil) {
		_ = s.record(ctx, tenant, a.audit(), "coldchain.sign.locked", kind+":"+id, "signing attempt while locked", nil, nil)
		return SignResult{}, &Error{Kind: KindForbidden, Code: "locked", Message: "account locked after repeated failed attempts; try again later or ask an administrator"}
	}
	rq, err := s.requirement(ctx, a, prev, now)
	if err != nil {
		return SignResult{}, err
	}
	att := esign.Attempt{TypedUserID: req.UserID, Password: esign.PasswordMissing}
	if strings.EqualFold(req.UserID, u.ID) {
		att.TypedUserID = u.Username
	}
	if req.Password != "" {
		ok, err := auth.VerifyPassword(u.PasswordHash, req.Password)
		if err != nil {
			return SignResult{}, fmt.Errorf("signer %s: %w", u.ID, err)
		}
		att.Password = esign.PasswordWrong
		if ok {
			att.Password = esign.PasswordOK
		}
	}
	if err := rq.Check(s.cfg.Session, u.Username, att, now); err != nil {
		switch {
		case esign.FailedAttempt(err):
			return SignResult{}, s.failedSigning(ctx, u, kind, id, now)
		case errors.Is(err, esign.ErrUserIDRequired):
			return SignResult{}, &Error{Kind: KindInvalid, Code: "user_id_required", Message: "user ID and password are required for the first signing in a session"}
		default:
			return SignResult{}, &Error{Kind: KindInvalid, Code: "password_required", Message: "password required"}
		}
	}
	if u.FailedLogins != 0 {
		u.FailedLogins, u.LockedUntil = 0, time.Time{}
		if err := s.cfg.Store.UpdateUser(ctx, u); err != nil {
			return SignResult{}, fmt.Errorf("signer %s: reset failures: %w", u.ID, err)
		}
	}
	r, err := s.loadSigned(ctx, tenant, kind, id)
	if err != nil {
		return SignResult{}, err
	}
	sigs, err := s.verify(ctx, tenant, r)
	if err != nil {
		return SignResult{}, err
	}
	bl, err := s.blockers(ctx, tenant, r, sigState(sigs), meaning == esign.ApprovedForRelease)
	if err != nil {
		return SignResult{}, err
	}
	if len(bl) > 0 {
		code := "blocked"
		if !strings.Contains(bl[0], "excursion") {
			code = "state"
		}
		return SignResult{}, &Error{Kind: KindConflict, Code: code, Message: strings.Join(bl, "; "), Detail: map[string]any{"blockers": bl}}
	}
	if asOf.After(now) || now.Sub(asOf) > MaxReviewAge {
		return SignResult{}, &Error{Kind: KindConflict, Code: "record_changed", Message: "the review is older than an hour; reload it"}
	}
	_, sha, err := s.report(ctx, tenant, r, asOf)
	if err != nil {
		return SignResult{}, err
	}
	if sha != req.ReportSHA256 {
		return SignResult{}, &Error{Kind: KindConflict, Code: "record_changed", Message: "the record changed since it was reviewed; reload the review",
			Detail: map[string]any{"report_sha256": sha}}
	}
	decision := decisionOf(meaning)
	rec, err := r.schema.Record(r.version, r.fields(decision, sha))
	if err != nil {
		return SignResult{}, err
	}
	session := "s:" + a.TokenHash
	if len(a.TokenHash) > 16 {
		session = "s:" + a.TokenHash[:16]
	}
	sig, err := s.cfg.Keyring.Sign(esign.Request{Record: rec, SignerID: u.ID, PrintedName: u.Username, Meaning: meaning,
		Reason: req.Reason, DisplayTZ: r.tz, SessionID: session, FirstInSession: rq.First, Method: rq.Method}, now)
	if err != nil {
		return SignResult{}, err
	}
	sig.ID = "sig-" + sig.SigSHA256[:24]
	doc, err := json.Marshal(storedSignature{Sig: sig, AsOf: asOf, ReportSHA256: sha, Decision: decision})
	if err != nil {
		return SignResult{}, err
	}
	if _, err := s.cfg.Store.PutColdRecord(ctx, store.ColdRecord{Tenant: tenant, Kind: store.ColdSignature, ID: sig.ID, Parent: id,
		Status: decision, Updated: sig.SignedAt, JSON: doc}, 0); err != nil {
		return SignResult{}, fmt.Errorf("store signature: %w", err)
	}
	s.sess.signed(a.TokenHash, now)
	if err := s.record(ctx, tenant, a.audit(), "coldchain.sign", kind+":"+id, req.Reason, nil, map[string]any{
		"signature": sig.ID, "meaning": meaning, "record_type": rec.Type, "record_hash": rec.Hash, "report_sha256": sha,
		"as_of": asOf, "method": rq.Method, "first_in_session": rq.First, "sig_sha256": sig.SigSHA256}); err != nil {
		return SignResult{}, err
	}
	res := SignResult{}
	switch kind {
	case ReviewLot:
		if err := s.setLotStatus(ctx, a.audit(), tenant, id, decision, "e-signature "+sig.ID+": "+req.Reason, nil); err != nil {
			return SignResult{}, err
		}
		res.Status = decision
	case ReviewShipment:
		st, err := s.decideShipment(ctx, a, tenant, id, meaning, sig.ID, req.Reason)
		if err != nil {
			return SignResult{}, err
		}
		res.State = string(st)
	}
	views, err := s.verify(ctx, tenant, r)
	if err != nil {
		return SignResult{}, err
	}
	for _, v := range views {
		if v.ID == sig.ID {
			res.Signature = v
		}
	}
	return res, nil
}

// failedSigning counts a failed signing toward lockout, audits it and returns the refusal.
func (s *Service) failedSigning(ctx context.Context, u store.User, kind, id string, now time.Time) error {
	u.FailedLogins++
	locked := u.FailedLogins >= s.cfg.MaxFailures
	action := "coldchain.sign.fail"
	if locked {
		u.LockedUntil = now.Add(s.cfg.LockoutDuration)
		action = "coldchain.sign.locked"
		s.log.WarnContext(ctx, "account locked after failed signing attempts", "user_id", u.ID, "tenant", u.Tenant, "failures", u.FailedLogins)
	}
	if err := s.cfg.Store.UpdateUser(ctx, u); err != nil {
		return fmt.Errorf("signer %s: count failure: %w", u.ID, err)
	}
	if err := s.record(ctx, u.Tenant, "user:"+u.ID, action, kind+":"+id,
		fmt.Sprintf("wrong password or user ID (%d of %d)", u.FailedLogins, s.cfg.MaxFailures), nil,
		map[string]any{"failed_logins": u.FailedLogins}); err != nil {
		return err
	}
	if locked {
		return &Error{Kind: KindForbidden, Code: "locked", Message: "account locked after repeated failed attempts",
			Detail: map[string]any{"failures": u.FailedLogins, "max_failures": s.cfg.MaxFailures}}
	}
	return &Error{Kind: KindUnauthorized, Code: "wrong_password", Message: "wrong password or user ID",
		Detail: map[string]any{"failures": u.FailedLogins, "max_failures": s.cfg.MaxFailures}}
}

// decideShipment moves a quarantined shipment to RELEASED or REJECTED (and its lots to the
// same decision), citing the signature.
func (s *Service) decideShipment(ctx context.Context, a Actor, tenant, id string, m esign.Meaning, sigID, reason string) (coldchain.ShipmentState, error) {
	act := coldchain.Release
	if m == esign.Rejected {
		act = coldchain.Reject
	}
	for attempt := 0; ; attempt++ {
		sh, ver, err := load[Shipment](ctx, s.cfg.Store, tenant, store.ColdShipment, id)
		if err != nil {
			return "", err
		}
		from := sh.State
		if from == coldchain.Released || from == coldchain.Rejected {
			from = coldchain.Quarantined // a new decision supersedes an invalidated one
		}
		to, err := coldchain.Transition(from, act, true)
		if err != nil {
			return "", &Error{Kind: KindConflict, Code: "state", Message: err.Error(), Err: err}
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		old := sh.State
		sh.Transitions = append(sh.Transitions, Transition{From: sh.State, To: to, Action: act, At: now, Actor: a.audit(),
			Reason: "e-signature " + sigID + ": " + reason})
		sh.State = to
		sh = stripMeta(sh)
		_, err = s.put(ctx, tenant, store.ColdShipment, id, sh.Lane.ID, string(sh.State), sh, ver)
		if e, ok := AsError(err); ok && e.Code == "version" && attempt < 3 {
			continue
		}
		if err != nil {
			return "", err
		}
		s.proc.invalidate(tenant)
		if err := s.record(ctx, tenant, a.audit(), "shipment."+string(act), "shipment:"+id, "e-signature "+sigID,
			map[string]any{"state": old}, map[string]any{"state": to}); err != nil {
			return "", err
		}
		status := LotReleased
		if act == coldchain.Reject {
			status = LotRejected
		}
		for _, lot := range sh.Lots {
			if err := s.setLotStatus(ctx, a.audit(), tenant, lot, status, "shipment "+id+" "+string(to)+" by e-signature "+sigID, nil); err != nil {
				return "", err
			}
		}
		return to, nil
	}
}
