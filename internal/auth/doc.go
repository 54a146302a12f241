// Package auth authenticates users and devices and decides what a principal may do: password
// hashing and policy, login with lockout, session and API tokens, device secrets, and the
// role → permission table with tenant scoping (spec part11.md §§11.10(d), (g), (h), 11.300).
//
// Credentials:
//   - Passwords are hashed with argon2id (OWASP parameters, DefaultParams) and stored as PHC
//     strings; comparison is constant-time. A person-chosen password needs a slow, salted hash.
//   - Tokens ("vgl_…") and device secrets ("vgd_…") are 256-bit random values; only their hex
//     SHA-256 is stored (see NewSecret for why a fast hash is right for them).
//   - Secrets never reach logs or audit entries: Principal and LoginResult implement
//     slog.LogValuer, String and GoString without them.
//
// Service does the stateful work through a small Store interface and audits every login
// attempt, logout, token issue and revocation through a Recorder. Allowed and CanAssignRole are
// pure. It builds no HTTP handlers; the HTTP layer maps its errors (ErrInvalidCredentials,
// ErrUnauthenticated → 401; ErrLocked, ErrDeviceRevoked, ErrForbidden → 403; *PolicyError → 400).
//
// Service is safe for concurrent use. Its shared mutable state is the device cache (see
// AuthenticateDevice), guarded by one mutex that is never held across a call, and 16 striped
// per-user locks that serialise failure counting in Login. A stripe lock is held while Login
// reads and writes the store and records the attempt, so the lock order is: auth stripe, then
// whatever the store and Recorder (audit.Trail) take; they never call back into auth.
package auth
