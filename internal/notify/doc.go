// Package notify delivers alarm notifications from the store's outbox: one goroutine (Run)
// takes due items, posts each to its tenant's webhook (tenant setting alarm.webhook_url,
// signed with alarm.webhook_secret) and, when an SMTP relay is configured, mails it to the
// tenant's alarm.email_to addresses over STARTTLS (never in clear text); it records the
// outcome: sent once every channel succeeded (2xx, mail accepted), else retried on all with
// exponential backoff, and dead after MaxAttempts (counted and logged). Console delivery is
// the SSE "alarm" event (package httpapi); the MQTT channel is not implemented yet.
//
// Exactly once as far as Vigil can: an item is marked sent only after its 2xx, and each POST
// carries X-Vigil-Notification-Id (the deterministic notification id), so a receiver that
// dedupes on it sees each notification once even when a crash falls between the 2xx and the
// mark. A Deliverer is safe for concurrent use, but one Run per store is intended.
package notify
