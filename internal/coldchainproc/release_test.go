package coldchainproc

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/esign"
	"github.com/vigil-iomt/vigil/internal/store"
)

const qaPW = "correct horse battery staple"

// quarantinedLots sets up two quarantined lots L1 and L2 in a fridge with a clean record.
func quarantinedLots(t testing.TB) *env {
	e := newEnv(t)
	e.gardasil()
	e.unit("fridge", x1Limits)
	e.lot("L1", AtUnit, "fridge")
	e.lot("L2", AtUnit, "fridge")
	for _, id := range []string{"L1", "L2"} {
		e.must(e.svc.setLotStatus(t.Context(), SystemActor, tenant, id, LotQuarantined, "test", nil))
	}
	e.clock.Set(t0.Add(time.Hour))
	return e
}

func code(err error) string {
	if e, ok := AsError(err); ok {
		return e.Code
	}
	return ""
}

func (e *env) sign(a Actor, lot, userID, pw, meaning string) (SignResult, Review, error) {
	e.t.Helper()
	rv, err := e.svc.Review(e.t.Context(), a, tenant, ReviewLot, lot)
	e.must(err)
	res, err := e.svc.Sign(e.t.Context(), a, tenant, ReviewLot, lot, SignRequest{Meaning: meaning, UserID: userID, Password: pw,
		Reason: "record reviewed", AsOf: rv.AsOf.Format(time.RFC3339Nano), ReportSHA256: rv.ReportSHA256})
	return res, rv, err
}

// TestSignReauthentication applies §11.200: the first signing of a session needs the user ID
// and the password, a later one in the same continuous session the password only; after 15
// min idle all components again. A wrong password counts toward lockout.
func TestSignReauthentication(t *testing.T) {
	e := quarantinedLots(t)
	qa := e.qaUser("dana.lee", qaPW)
	if _, _, err := e.sign(qa, "L1", "", qaPW, "Approved for release"); code(err) != "user_id_required" {
		t.Fatalf("first signing without user id: %v, want user_id_required", err)
	}
	_, _, err := e.sign(qa, "L1", "dana.lee", "wrong password!", "Approved for release")
	if ce, _ := AsError(err); code(err) != "wrong_password" || ce.Kind != KindUnauthorized || ce.Detail["failures"] != 1 {
		t.Fatalf("wrong password: %v (%+v), want wrong_password with 1 failure", err, ce)
	}
	res, rv, err := e.sign(qa, "L1", "DANA.LEE", qaPW, "Approved for release")
	e.must(err)
	if !rv.Requirement.UserID || res.Status != LotReleased || res.Signature.State != "valid" || res.Signature.Method != esign.MethodIDPassword ||
		!res.Signature.FirstInSession || res.Signature.PrintedName != "dana.lee" {
		t.Fatalf("first signing: review requirement %+v, result %+v", rv.Requirement, res)
	}
	if want := "dana.lee (u-dana.lee) — Approved for release — 2025-03-14 10:00:00 CET (UTC+01:00)"; res.Signature.Manifestation != want {
		t.Errorf("manifestation %q, want %q", res.Signature.Manifestation, want)
	}
	u, err := e.st.User(t.Context(), tenant, qa.UserID)
	e.must(err)
	if u.FailedLogins != 0 {
		t.Errorf("failed count %d after a successful signing, want 0", u.FailedLogins)
	}
	// Later signing, same session, 5 min later: password only.
	e.clock.Set(e.clock.Now().Add(5 * time.Minute))
	res, rv, err = e.sign(qa, "L2", "", qaPW, "Rejected")
	e.must(err)
	if rv.Requirement.UserID || res.Signature.Method != esign.MethodPassword || res.Status != LotRejected {
		t.Fatalf("second signing: requirement %+v, result %+v; want password only, rejected", rv.Requirement, res)
	}
	// After 15 min idle the period has ended.
	e.lot("L3", AtUnit, "fridge")
	e.must(e.svc.setLotStatus(t.Context(), SystemActor, tenant, "L3", LotQuarantined, "test", nil))
	e.clock.Set(e.clock.Now().Add(16 * time.Minute))
	if _, _, err := e.sign(qa, "L3", "", qaPW, "Rejected"); code(err) != "user_id_required" {
		t.Fatalf("signing after 16 min idle without user id: %v, want user_id_required", err)
	}
}

// TestSignLockout: five consecutive failures lock the account; the right password is then
// refused too.
func TestSignLockout(t *testing.T) {
	e := quarantinedLots(t)
	qa := e.qaUser("dana.lee", qaPW)
	for i := 1; i <= 5; i++ {
		_, _, err := e.sign(qa, "L1", "dana.lee", "not the password", "Approved for release")
		want := "wrong_password"
		if i == 5 {
			want = "locked"
		}
		if code(err) != want {
			t.Fatalf("attempt %d: %v, want %s", i, err, want)
		}
	}
	if _, _, err := e.sign(qa, "L1", "dana.lee", qaPW, "Approved for release"); code(err) != "locked" {
		t.Fatalf("right password while locked: %v, want locked", err)
	}
	recs, err := e.st.Audit(t.Context(), tenant, 0, 1000)
	e.must(err)
	var fails, locks int
	for _, r := range recs {
		switch r.Action {
		case "coldchain.sign.fail":
			fails++
		case "coldchain.sign.locked":
			locks++
		}
		if strings.Contains(r.New+r.Old+r.Reason, "not the password") {
			t.Fatalf("audit entry %d holds the typed password", r.Seq)
		}
	}
	if fails != 4 || locks != 2 {
		t.Errorf("audit: %d failures and %d lock entries, want 4 and 2 (the locking failure, the refused attempt)", fails, locks)
	}
}

// TestSignatureBinding: a signature copied onto another record fails verification, and a
// change to the signed record marks its signature invalidated.
func TestSignatureBinding(t *testing.T) {
	e := quarantinedLots(t)
	ctx := t.Context()
	qa := e.qaUser("dana.lee", qaPW)
	res, _, err := e.sign(qa, "L1", "dana.lee", qaPW, "Approved for release")
	e.must(err)
	// Copy the stored signature onto L2, as someone with database access might.
	rec, err := e.st.ColdRecord(ctx, tenant, store.ColdSignature, res.Signature.ID)
	e.must(err)
	rec.ID, rec.Parent, rec.Version = "sig-copied", "L2", 0
	_, err = e.st.PutColdRecord(ctx, rec, 0)
	e.must(err)
	rv, err := e.svc.Review(ctx, qa, tenant, ReviewLot, "L2")
	e.must(err)
	if len(rv.Signatures) != 1 || rv.Signatures[0].State != "wrong_record" || rv.SignatureState != SigInvalidated {
		t.Fatalf("L2 with L1's signature: %+v (%s), want wrong_record, invalidated", rv.Signatures, rv.SignatureState)
	}
	// Even with the record id rewritten (the id is not in the MAC'd message, spec 6.4 v1), the
	// signed record hash is L1's content, not L2's.
	var ss storedSignature
	e.must(json.Unmarshal(rec.JSON, &ss))
	ss.Sig.RecordID = "L2"
	rec.JSON, _ = json.Marshal(ss)
	rec.ID = "sig-forged"
	_, err = e.st.PutColdRecord(ctx, rec, 0)
	e.must(err)
	rv, err = e.svc.Review(ctx, qa, tenant, ReviewLot, "L2")
	e.must(err)
	if rv.Signatures[1].State != "record_changed" {
		t.Fatalf("forged signature state %s, want record_changed (the hash of L1's content)", rv.Signatures[1].State)
	}

	rv, err = e.svc.Review(ctx, qa, tenant, ReviewLot, "L1")
	e.must(err)
	if rv.SignatureState != SigValid || rv.CanSign {
		t.Fatalf("L1 after release: %s, can sign %v; want valid and nothing to sign", rv.SignatureState, rv.CanSign)
	}
	q := 90.0
	_, err = e.svc.PatchLot(ctx, e.admin, tenant, "L1", LotPatch{Quantity: &q, Reason: "10 doses broken"})
	e.must(err)
	rv, err = e.svc.Review(ctx, qa, tenant, ReviewLot, "L1")
	e.must(err)
	if rv.SignatureState != SigInvalidated || rv.Signatures[0].State != "record_changed" || !rv.CanSign ||
		rv.Signatures[0].StateMessage != "invalid — signed record has changed since signing" {
		t.Fatalf("L1 after a change: %s %+v, can sign %v; want invalidated (record_changed) and signable again", rv.SignatureState, rv.Signatures, rv.CanSign)
	}
}

// TestSignRecordChangedSinceReview: a change between review and signing is refused (409).
func TestSignRecordChangedSinceReview(t *testing.T) {
	e := quarantinedLots(t)
	ctx := t.Context()
	qa := e.qaUser("dana.lee", qaPW)
	rv, err := e.svc.Review(ctx, qa, tenant, ReviewLot, "L1")
	e.must(err)
	q := 1.0
	_, err = e.svc.PatchLot(ctx, e.admin, tenant, "L1", LotPatch{Quantity: &q, Reason: "recount"})
	e.must(err)
	_, err = e.svc.Sign(ctx, qa, tenant, ReviewLot, "L1", SignRequest{Meaning: "Approved for release", UserID: "dana.lee", Password: qaPW,
		AsOf: rv.AsOf.Format(time.RFC3339Nano), ReportSHA256: rv.ReportSHA256})
	if ce, ok := AsError(err); !ok || ce.Code != "record_changed" || ce.Kind != KindConflict {
		t.Fatalf("sign after a change: %v, want 409 record_changed", err)
	}
}

// TestReleaseBlockedByUnacknowledgedExcursion (part11 §11.10(f)): releasing with an
// unacknowledged excursion is refused; after acknowledgement it succeeds.
func TestReleaseBlockedByUnacknowledgedExcursion(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.gardasil()
	e.unit("fridge", x1Limits)
	e.clock.Set(t0.Add(-time.Minute))
	e.lot("L1", AtUnit, "fridge")
	for i, c := range x1 {
		e.feed(one(temp("fridge-logger", at(5*i), c)))
	}
	e.must(e.svc.setLotStatus(ctx, SystemActor, tenant, "L1", LotQuarantined, "review", nil))
	e.clock.Set(t0.Add(2 * time.Hour))
	qa := e.qaUser("dana.lee", qaPW)
	if _, _, err := e.sign(qa, "L1", "dana.lee", qaPW, "Approved for release"); code(err) != "blocked" {
		t.Fatalf("release with an unacknowledged excursion: %v, want blocked", err)
	}
	exs := e.excursions("fridge")
	_, err := e.svc.AckExcursion(ctx, e.admin, tenant, exs[0].ID, AckRequest{Comment: "door ajar, within budget", RootCause: "door"})
	e.must(err)
	if _, err := e.svc.AckExcursion(ctx, e.admin, tenant, exs[0].ID, AckRequest{Comment: "again"}); code(err) != "state" {
		t.Fatalf("second acknowledgement: %v, want state conflict", err)
	}
	res, _, err := e.sign(qa, "L1", "dana.lee", qaPW, "Approved for release")
	e.must(err)
	if res.Status != LotReleased {
		t.Fatalf("status %s, want released", res.Status)
	}
	rv, err := e.svc.Review(ctx, qa, tenant, ReviewLot, "L1")
	e.must(err)
	var rep lotReport
	e.must(json.Unmarshal(rv.Report, &rep))
	if len(rep.Excursions) != 1 || rep.Excursions[0].Ack == nil || rep.Lot.Budget[0].ConsumedS != 1800 {
		t.Fatalf("report excursions %+v, budget %+v; want the acknowledged excursion and 1800 s in band A", rep.Excursions, rep.Lot.Budget)
	}
}

// TestReportPDF checks the signature manifestation in the PDF's text (pdftotext).
func TestReportPDF(t *testing.T) {
	const tool = "/usr/bin/pdftotext"
	if _, err := os.Stat(tool); err != nil {
		t.Skip("pdftotext (poppler-utils) is not installed at " + tool + "; the PDF text cannot be checked")
	}
	e := quarantinedLots(t)
	qa := e.qaUser("dana.lee", qaPW)
	_, _, err := e.sign(qa, "L1", "dana.lee", qaPW, "Approved for release")
	e.must(err)
	b, err := e.svc.ReportPDF(t.Context(), qa, tenant, ReviewLot, "L1")
	e.must(err)
	dir := t.TempDir()
	pdf := filepath.Join(dir, "r.pdf")
	e.must(os.WriteFile(pdf, b, 0o600))
	out, err := exec.CommandContext(t.Context(), tool, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	for _, want := range []string{"Lot release report - LOT-L1", "dana.lee (u-dana.lee)", "Approved for release",
		"2025-03-14 10:00:00 CET (UTC+01:00)", "Printed name: dana.lee", "signature valid", "Report JSON SHA-256"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF text lacks %q:\n%s", want, text)
		}
	}
}
