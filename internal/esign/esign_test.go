package esign

import (
	"errors"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin without relying on the host's zoneinfo
)

const (
	testReport = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // SHA-256 of "test"
	specRecMsg = "13:LOT-2025-0117,11:GARD9-0.5ML,8:released,64:" + testReport + ","
	specRecord = "4bfd246937e5205a6c96f92dfaca7061bba5fb9d3b8a0b30ebe616d27b7a4e40"
	specSigSHA = "96a83f45103a9ad0f46ae5ba8c56ea72867e5b3e9141bf46f269a266b917988d"
	specSigMAC = "7f6cc0c9ade2cafcf1866fbf3751e3eb3f1896777d75008f0c09628abca8180a"
	specCopied = "dddb344fd52e4a48b4fca8e174d6e3fb71ea840d636181ba5d011e60d26bb4a9"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func lot(t testing.TB, id, decision string) Record {
	t.Helper()
	r, err := LotDispositionV1.Record(1, map[string]string{
		"lot_id": id, "product": "GARD9-0.5ML", "decision": decision, "report_sha256": testReport})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// specKeyring signs with the spec's short test key ("vigil-test-key"), which NewKeyring would
// refuse as too short for production.
func specKeyring() *Keyring {
	return &Keyring{current: Key{ID: "k1"}, byID: map[string][]byte{"k1": []byte("vigil-test-key")}}
}

func specRequest(rec Record) Request {
	return Request{Record: rec, SignerID: "u:qa.lee", PrintedName: "Dana Lee", Meaning: ApprovedForRelease,
		Reason: "Excursion within stability budget; see report", DisplayTZ: "Europe/Berlin",
		SessionID: "s1", FirstInSession: true, Method: MethodIDPassword}
}

func specSignature(t testing.TB) Signature {
	t.Helper()
	// Sub-millisecond digits are cut, not rounded: .250999 signs as .250.
	sig, err := specKeyring().Sign(specRequest(lot(t, "LOT-2025-0117", "released")), mustTime(t, "2025-03-14T17:45:00.250999+01:00"))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// Spec part11.md 6.4 test vectors.
func TestSpecVectors(t *testing.T) {
	msg, err := LotDispositionV1.Message(map[string]string{
		"lot_id": "LOT-2025-0117", "product": "GARD9-0.5ML", "decision": "released", "report_sha256": testReport})
	if err != nil || msg != specRecMsg {
		t.Fatalf("record message = %q, %v; want %q", msg, err, specRecMsg)
	}
	if got := lot(t, "LOT-2025-0117", "released"); got.Hash != specRecord || got.ID != "LOT-2025-0117" || got.Type != "lot.disposition" {
		t.Errorf("record = %+v, want hash %s", got, specRecord)
	}
	sig := specSignature(t)
	if got := FormatTime(sig.SignedAt); got != "2025-03-14T16:45:00.250Z" {
		t.Errorf("signed_at = %s", got)
	}
	if sig.SigSHA256 != specSigSHA {
		t.Errorf("sig_sha256 = %s, want %s", sig.SigSHA256, specSigSHA)
	}
	if sig.SigMAC != specSigMAC {
		t.Errorf("sig_mac = %s, want %s", sig.SigMAC, specSigMAC)
	}
	copied := lot(t, "LOT-2025-0118", "released")
	if copied.Hash != specCopied {
		t.Errorf("LOT-2025-0118 record_hash = %s, want %s", copied.Hash, specCopied)
	}
	if st, err := specKeyring().Verify(sig, copied); st == Valid || err == nil {
		t.Errorf("signature copied onto LOT-2025-0118 verified: %v, %v", st, err)
	}
}

func TestVerify(t *testing.T) {
	kr := specKeyring()
	orig := lot(t, "LOT-2025-0117", "released")
	tests := []struct {
		name    string
		mutSig  func(*Signature)
		current Record
		want    State
		wantErr error
	}{
		{"intact", nil, orig, Valid, nil},
		{"record edited after signing", nil, lot(t, "LOT-2025-0117", "rejected"), RecordChanged, ErrRecordChanged},
		{"copied onto another lot", nil, lot(t, "LOT-2025-0118", "released"), WrongRecord, ErrWrongRecord},
		{"copied, stored record id rewritten", func(s *Signature) { s.RecordID = "LOT-2025-0118" },
			lot(t, "LOT-2025-0118", "released"), RecordChanged, ErrRecordChanged},
		{"copied, record hash rewritten", func(s *Signature) { s.RecordID, s.RecordHash = "LOT-2025-0118", specCopied },
			lot(t, "LOT-2025-0118", "released"), Invalid, ErrSignatureInvalid},
		{"other record type", nil, Record{Type: "audit.review", ID: "LOT-2025-0117", Hash: specRecord}, WrongRecord, ErrWrongRecord},
		{"printed name changed", func(s *Signature) { s.PrintedName = "Dana Smith" }, orig, Invalid, ErrSignatureInvalid},
		{"signer changed", func(s *Signature) { s.SignerID = "u:qa.kim" }, orig, Invalid, ErrSignatureInvalid},
		{"meaning changed", func(s *Signature) { s.Meaning = Rejected }, orig, Invalid, ErrSignatureInvalid},
		{"time changed", func(s *Signature) { s.SignedAt = s.SignedAt.Add(time.Millisecond) }, orig, Invalid, ErrSignatureInvalid},
		{"sha and mac recomputed without key", func(s *Signature) {
			s.PrintedName = "Dana Smith"
			s.SigSHA256 = HashHex(s.Message())
		}, orig, Invalid, ErrSignatureInvalid},
		{"unknown key", func(s *Signature) { s.KeyID = "k9" }, orig, Invalid, ErrSignatureInvalid},
		{"unknown algorithm", func(s *Signature) { s.Alg = "none" }, orig, Invalid, ErrSignatureInvalid},
		{"mac zeroed", func(s *Signature) { s.SigMAC = strings.Repeat("0", 64) }, orig, Invalid, ErrSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := specSignature(t)
			if tt.mutSig != nil {
				tt.mutSig(&sig)
			}
			got, err := kr.Verify(sig, tt.current)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Verify = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestStateMessage(t *testing.T) {
	if got := RecordChanged.Message(); got != "invalid — signed record has changed since signing" {
		t.Errorf("RecordChanged.Message() = %q", got)
	}
	for _, s := range []State{RecordChanged, WrongRecord, Invalid, State(9)} {
		if !strings.HasPrefix(s.Message(), "invalid — ") {
			t.Errorf("%v.Message() = %q, want it shown as invalid", s, s.Message())
		}
	}
}

func TestKeyRotation(t *testing.T) {
	k1 := Key{ID: "2025-01", Secret: []byte(strings.Repeat("a", 32))}
	k2 := Key{ID: "2025-07", Secret: []byte(strings.Repeat("b", 32))}
	old, err := NewKeyring(k1)
	if err != nil {
		t.Fatal(err)
	}
	rec := lot(t, "LOT-2025-0117", "released")
	sig, err := old.Sign(specRequest(rec), mustTime(t, "2025-03-14T16:45:00.250Z"))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewKeyring(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := rotated.Verify(sig, rec); st != Valid {
		t.Errorf("after rotation, old signature: %v, %v", st, err)
	}
	newOnly, _ := NewKeyring(k2)
	if st, _ := newOnly.Verify(sig, rec); st != Invalid {
		t.Errorf("without the old key: %v, want invalid", st)
	}
	for _, bad := range [][]Key{{{ID: "", Secret: k1.Secret}}, {{ID: "x", Secret: []byte("short")}}, {k1, k1}} {
		if _, err := NewKeyring(bad[0], bad[1:]...); err == nil {
			t.Errorf("NewKeyring(%v) succeeded", bad)
		}
	}
	if s := k1.String(); strings.Contains(s, "aaaa") {
		t.Errorf("Key.String leaks the secret: %s", s)
	}
}

func TestSchemaMessageRejectsFieldSetErrors(t *testing.T) {
	full := map[string]string{"lot_id": "L1", "product": "P", "decision": "released", "report_sha256": testReport}
	tests := []struct {
		name string
		mut  func(map[string]string)
		want string // in the error; "" for success
	}{
		{"complete", func(map[string]string) {}, ""},
		{"empty value is a value", func(m map[string]string) { m["product"] = "" }, ""},
		{"missing", func(m map[string]string) { delete(m, "decision") }, "missing fields [decision]"},
		{"unknown", func(m map[string]string) { m["comment"] = "x" }, "unknown fields [comment]"},
	}
	for _, tt := range tests {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		tt.mut(m)
		_, err := LotDispositionV1.Message(m)
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := LotDispositionV1.Record(1, map[string]string{"lot_id": "", "product": "P", "decision": "d", "report_sha256": "r"}); err == nil {
		t.Error("Record with an empty id succeeded")
	}
	bad := LotDispositionV1
	bad.IDField = "shipment_id"
	if _, err := bad.Record(1, full); err == nil {
		t.Error("Record with an unhashed id field succeeded")
	}
	// Moving bytes between fields changes the hash (netstrings are unambiguous).
	a, _ := LotDispositionV1.Message(map[string]string{"lot_id": "L1", "product": "P,", "decision": "x", "report_sha256": ""})
	b, _ := LotDispositionV1.Message(map[string]string{"lot_id": "L1", "product": "P", "decision": ",x", "report_sha256": ""})
	if a == b {
		t.Errorf("shifted field content gives the same message %q", a)
	}
	if !LotDispositionV1.Allows(Rejected) || LotDispositionV1.Allows(Reviewed) {
		t.Error("lot disposition must allow exactly Approved for release and Rejected")
	}
}

func TestRequestValidate(t *testing.T) {
	rec := lot(t, "LOT-2025-0117", "released")
	tests := []struct {
		name string
		mut  func(*Request)
		want string
	}{
		{"ok", func(*Request) {}, ""},
		{"system job", func(r *Request) { r.SignerID = "sys:autorelease" }, "only a person can sign"},
		{"device", func(r *Request) { r.SignerID = "D:fridge-7" }, "only a person can sign"},
		{"acknowledged is no meaning", func(r *Request) { r.Meaning = "Acknowledged" }, "not on the controlled list"},
		{"meaning case", func(r *Request) { r.Meaning = "approved for release" }, "not on the controlled list"},
		{"no printed name", func(r *Request) { r.PrintedName = " " }, "no printed name"},
		{"bad hash", func(r *Request) { r.Record.Hash = strings.ToUpper(specRecord) }, "not 64 lowercase hex"},
		{"password only on first", func(r *Request) { r.Method = MethodPassword }, "needs user id and password"},
		{"no zone", func(r *Request) { r.DisplayTZ = "" }, "no display time zone"},
	}
	for _, tt := range tests {
		r := specRequest(rec)
		tt.mut(&r)
		_, err := specKeyring().Sign(r, time.Now())
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestManifest(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	sig := specSignature(t)
	const want = "Dana Lee (u:qa.lee) — Approved for release — 2025-03-14 17:45:00 CET (UTC+01:00)"
	if got := Manifest(sig, berlin); got != want {
		t.Errorf("Manifest =\n%s\nwant\n%s", got, want)
	}
	tests := []struct {
		at   string
		loc  *time.Location
		want string
	}{
		{"2025-07-01T10:00:00.000Z", berlin, "2025-07-01 12:00:00 CEST (UTC+02:00)"},
		// DST day in Berlin (30 March 2025, 01:00Z): either side shows its own offset.
		{"2025-03-30T00:59:59.999Z", berlin, "2025-03-30 01:59:59 CET (UTC+01:00)"},
		{"2025-03-30T01:00:00.000Z", berlin, "2025-03-30 03:00:00 CEST (UTC+02:00)"},
		{"2025-03-14T16:45:00.250Z", time.UTC, "2025-03-14 16:45:00 UTC (UTC+00:00)"},
	}
	for _, tt := range tests {
		s := sig
		s.SignedAt = mustTime(t, tt.at)
		if got := Manifest(s, tt.loc); !strings.HasSuffix(got, " — "+tt.want) {
			t.Errorf("Manifest at %s in %s = %q, want suffix %q", tt.at, tt.loc, got, tt.want)
		}
	}
	blk, err := SignatureBlock(Signature{ID: "sig-1", SignerID: sig.SignerID, PrintedName: sig.PrintedName,
		Meaning: sig.Meaning, SignedAt: sig.SignedAt}, berlin, Valid)
	if err != nil || blk.Line != want || blk.UTC != "2025-03-14T16:45:00.250Z" || blk.ID != "sig-1" || blk.State != "signature valid" {
		t.Errorf("SignatureBlock = %+v, %v", blk, err)
	}
	if _, err := SignatureBlock(sig, nil, Valid); err == nil {
		t.Error("SignatureBlock without a zone succeeded")
	}
}

func TestRequire(t *testing.T) {
	login := mustTime(t, "2025-03-14T08:00:00Z")
	at := func(d time.Duration) time.Time { return login.Add(d) }
	tests := []struct {
		name      string
		s         Session
		now       time.Time
		first     bool
		method    string
		wantBreak Break
	}{
		{"first signing after login", Session{Start: login, LastActivity: at(time.Minute)}, at(2 * time.Minute), true, MethodIDPassword, NoBreak},
		{"second signing, same session", Session{Start: login, LastActivity: at(time.Minute), LastSigning: at(time.Minute)}, at(2 * time.Minute), false, MethodPassword, NoBreak},
		{"idle just under 15 min", Session{Start: login, LastActivity: at(time.Hour), LastSigning: at(time.Hour)}, at(time.Hour + 15*time.Minute - time.Millisecond), false, MethodPassword, NoBreak},
		{"idle exactly 15 min", Session{Start: login, LastActivity: at(time.Hour), LastSigning: at(time.Hour)}, at(time.Hour + 15*time.Minute), true, MethodIDPassword, BreakIdle},
		{"age just under 12 h", Session{Start: login, LastActivity: at(12*time.Hour - time.Minute), LastSigning: at(time.Hour)}, at(12*time.Hour - time.Millisecond), false, MethodPassword, NoBreak},
		{"age exactly 12 h", Session{Start: login, LastActivity: at(12*time.Hour - time.Minute), LastSigning: at(time.Hour)}, at(12 * time.Hour), true, MethodIDPassword, BreakAbsolute},
		{"logged out", Session{Start: login, LastActivity: at(time.Minute), LastSigning: at(time.Minute), LoggedOut: true}, at(2 * time.Minute), true, MethodIDPassword, BreakLogout},
		{"device changed", Session{Start: login, LastActivity: at(time.Minute), LastSigning: at(time.Minute), DeviceChanged: true}, at(2 * time.Minute), true, MethodIDPassword, BreakDevice},
		{"signing from an earlier session", Session{Start: login, LastActivity: at(time.Minute), LastSigning: login.Add(-time.Minute)}, at(2 * time.Minute), true, MethodIDPassword, NoBreak},
		{"SSO first", Session{Start: login, LastActivity: at(time.Minute), SSO: true}, at(2 * time.Minute), true, MethodIdP, NoBreak},
		{"SSO later still re-authenticates", Session{Start: login, LastActivity: at(time.Minute), LastSigning: at(time.Minute), SSO: true}, at(2 * time.Minute), false, MethodIdP, NoBreak},
	}
	for _, tt := range tests {
		r := SessionPolicy{}.Require(tt.s, tt.now)
		if r.First != tt.first || r.Method != tt.method || r.Break != tt.wantBreak {
			t.Errorf("%s: Require = %+v, want first %v method %s break %v", tt.name, r, tt.first, tt.method, tt.wantBreak)
		}
		if !tt.s.SSO && (r.UserID != tt.first || !r.Password) {
			t.Errorf("%s: components id=%v password=%v, want id=%v password=true", tt.name, r.UserID, r.Password, tt.first)
		}
	}
	// A configured idle timeout of 30 min moves the boundary.
	s := Session{Start: login, LastActivity: at(time.Hour), LastSigning: at(time.Hour)}
	if r := (SessionPolicy{Idle: 30 * time.Minute}).Require(s, at(time.Hour+20*time.Minute)); r.First {
		t.Errorf("idle 20 min with a 30 min policy: %+v, want a later signing", r)
	}
	for _, p := range []SessionPolicy{{Idle: 61 * time.Minute}, {Absolute: 10 * time.Minute}, {IdPMaxAge: -1}} {
		if p.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", p)
		}
	}
	if err := (SessionPolicy{}).Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
}

// Spec part11.md section 11, rows 11.200(a)(1)(i), (ii) and (a)(2), run through Require and Check.
func TestCheck(t *testing.T) {
	login := mustTime(t, "2025-03-14T08:00:00Z")
	p := SessionPolicy{}
	first := p.Require(Session{UserID: "u:qa.lee", Start: login, LastActivity: login}, login.Add(time.Minute))
	later := p.Require(Session{UserID: "u:qa.lee", Start: login, LastActivity: login.Add(time.Minute), LastSigning: login.Add(time.Minute)}, login.Add(2*time.Minute))
	idle := p.Require(Session{UserID: "u:qa.lee", Start: login, LastActivity: login.Add(time.Minute), LastSigning: login.Add(time.Minute)}, login.Add(16*time.Minute))
	sso := p.Require(Session{UserID: "u:qa.lee", Start: login, LastActivity: login, SSO: true}, login.Add(time.Minute))
	now := login.Add(2 * time.Minute)
	tests := []struct {
		name    string
		req     Requirement
		a       Attempt
		want    error
		counted bool
	}{
		{"first without ID refused", first, Attempt{Password: PasswordOK}, ErrUserIDRequired, false},
		{"first with ID and password", first, Attempt{TypedUserID: "u:qa.lee", Password: PasswordOK}, nil, false},
		{"ID compares case-insensitively", first, Attempt{TypedUserID: "U:QA.Lee", Password: PasswordOK}, nil, false},
		{"first, wrong password", first, Attempt{TypedUserID: "u:qa.lee", Password: PasswordWrong}, ErrWrongPassword, true},
		{"first, no password", first, Attempt{TypedUserID: "u:qa.lee"}, ErrPasswordMissing, false},
		{"typed ID of someone else", first, Attempt{TypedUserID: "u:qa.kim", Password: PasswordOK}, ErrUserIDMismatch, true},
		{"later with password only", later, Attempt{Password: PasswordOK}, nil, false},
		{"later, wrong password", later, Attempt{Password: PasswordWrong}, ErrWrongPassword, true},
		{"later, foreign ID still refused", later, Attempt{TypedUserID: "u:qa.kim", Password: PasswordOK}, ErrUserIDMismatch, true},
		{"after idle timeout, password only refused", idle, Attempt{Password: PasswordOK}, ErrUserIDRequired, false},
		{"after idle timeout, ID and password", idle, Attempt{TypedUserID: "u:qa.lee", Password: PasswordOK}, nil, false},
		{"SSO fresh", sso, Attempt{IdPAuthTime: now.Add(-60 * time.Second), IdPSubject: "u:qa.lee"}, nil, false},
		{"SSO 61 s old", sso, Attempt{IdPAuthTime: now.Add(-61 * time.Second), IdPSubject: "u:qa.lee"}, ErrIdPReauth, false},
		{"SSO without re-auth", sso, Attempt{Password: PasswordOK}, ErrIdPReauth, false},
		{"SSO other subject", sso, Attempt{IdPAuthTime: now, IdPSubject: "u:qa.kim"}, ErrUserIDMismatch, true},
	}
	for _, tt := range tests {
		err := tt.req.Check(p, "u:qa.lee", tt.a, now)
		if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("%s: Check = %v, want %v", tt.name, err, tt.want)
		}
		if FailedAttempt(err) != tt.counted {
			t.Errorf("%s: FailedAttempt = %v, want %v", tt.name, FailedAttempt(err), tt.counted)
		}
	}
}

// Spec part11.md section 11, row 11.300(d): 5 failures lock; the 6th with the right password is
// refused; the notification goes out once.
func TestLockout(t *testing.T) {
	p := LockoutPolicy{}
	t0 := mustTime(t, "2025-03-14T08:00:00Z")
	var s Lockout
	var o Outcome
	alerts := 0
	kinds := []Kind{Login, Login, Signing, Login, Signing}
	for i, k := range kinds {
		if p.Locked(s, t0) {
			t.Fatalf("locked after %d failures", i)
		}
		s, o = p.Fail(s, k, t0.Add(time.Duration(i)*10*time.Minute)) // far apart: no burst alert
		if o.Alert {
			alerts++
		}
	}
	now := t0.Add(time.Hour)
	if !o.JustLocked || !p.Locked(s, now) || alerts != 1 {
		t.Fatalf("after 5 failures: %+v, locked %v, %d alerts; want locked with one alert", o, p.Locked(s, now), alerts)
	}
	if !p.Locked(s, now.Add(24*time.Hour)) {
		t.Error("admin-unlock policy unlocked by itself")
	}
	if s2, o2 := p.Fail(s, Signing, now); !o2.Locked || o2.JustLocked || o2.Alert || s2.Failures != 5 {
		t.Errorf("failure while locked: %+v %+v, want no new lock or alert", s2, o2)
	}
	if s = Unlock(s); p.Locked(s, now) || s.Failures != 0 {
		t.Errorf("after admin unlock: %+v", s)
	}

	// A success resets the consecutive count.
	s = Lockout{}
	for range 4 {
		s, _ = p.Fail(s, Login, t0)
	}
	s = p.Succeed(s, t0)
	if s, o = p.Fail(s, Login, t0); o.Locked || s.Failures != 1 {
		t.Errorf("after a success, one failure: %+v %+v", s, o)
	}

	// Automatic unlock after 30 min when configured: locked until, not at, the 30th minute.
	auto := LockoutPolicy{AutoUnlock: 30 * time.Minute}
	s = Lockout{}
	for range 5 {
		s, _ = auto.Fail(s, Login, t0)
	}
	if !auto.Locked(s, t0.Add(30*time.Minute-time.Millisecond)) || auto.Locked(s, t0.Add(30*time.Minute)) {
		t.Error("auto unlock boundary wrong")
	}
	if s, o = auto.Fail(s, Login, t0.Add(31*time.Minute)); o.Locked || s.Failures != 1 || !s.LockedAt.IsZero() {
		t.Errorf("first failure after auto unlock: %+v %+v, want count 1, unlocked", s, o)
	}
}

func TestSigningBurstAlert(t *testing.T) {
	p := LockoutPolicy{}
	t0 := mustTime(t, "2025-03-14T08:00:00Z")
	tests := []struct {
		name      string
		offsets   []time.Duration // signing failures, relative to t0
		wantAlert []bool
	}{
		{"3 within 5 min", []time.Duration{0, time.Minute, 5 * time.Minute}, []bool{false, false, true}},
		{"3 spread over 5 min 1 ms", []time.Duration{0, time.Minute, 5*time.Minute + time.Millisecond}, []bool{false, false, false}},
		{"4th in the burst does not repeat", []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, []bool{false, false, true, false}},
	}
	for _, tt := range tests {
		var s Lockout
		for i, d := range tt.offsets {
			var o Outcome
			s, o = p.Fail(s, Signing, t0.Add(d))
			if o.Alert != tt.wantAlert[i] {
				t.Errorf("%s: failure %d alert = %v, want %v", tt.name, i+1, o.Alert, tt.wantAlert[i])
			}
		}
	}
	// Login failures do not make a signing burst.
	var s Lockout
	for i := range 3 {
		var o Outcome
		if s, o = p.Fail(s, Login, t0.Add(time.Duration(i)*time.Second)); o.Alert {
			t.Errorf("login failure %d alerted", i+1)
		}
	}
	for _, bad := range []LockoutPolicy{{MaxFailures: -1}, {AutoUnlock: -1}, {AlertWindow: -1}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	b.ReportAllocs()
	kr := specKeyring()
	req := specRequest(lot(b, "LOT-2025-0117", "released"))
	now := mustTime(b, "2025-03-14T16:45:00.250Z")
	for b.Loop() {
		if _, err := kr.Sign(req, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	b.ReportAllocs()
	kr := specKeyring()
	rec := lot(b, "LOT-2025-0117", "released")
	sig, _ := kr.Sign(specRequest(rec), mustTime(b, "2025-03-14T16:45:00.250Z"))
	for b.Loop() {
		if st, _ := kr.Verify(sig, rec); st != Valid {
			b.Fatal(st)
		}
	}
}
