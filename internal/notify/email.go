package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// SettingEmailTo is the tenant setting naming the addresses alarm notifications are mailed to,
// separated by spaces or commas (users have no e-mail address of their own yet).
const SettingEmailTo = "alarm.email_to"

// SMTP configures the e-mail channel: one relay for the whole server. The channel always
// upgrades the connection with STARTTLS and refuses a relay that does not offer it.
type SMTP struct {
	Addr     string      // host:port of the relay, such as smtp.example.org:587
	From     string      // envelope and header sender address
	Username string      // PLAIN authentication after STARTTLS; "" = none
	Password string      // a credential: never logged
	TLS      *tls.Config // nil: system roots, server name from Addr
	Timeout  time.Duration
}

// mailText is the part of a notification (the JSON of an alarm.Notification) a mail shows.
type mailText struct {
	AlarmID   string
	Recipient string
	Kind      string
	Priority  string
	Code      string
	Subject   string
	At        time.Time
}

// message builds the RFC 5322 message for outbox item id with payload. The Message-ID is
// derived from the deterministic notification id, so a resent mail can be recognised.
func (m *SMTP) message(id string, to []string, payload []byte, now time.Time) ([]byte, error) {
	var n mailText
	if err := json.Unmarshal(payload, &n); err != nil {
		return nil, fmt.Errorf("decode notification %s: %w", id, err)
	}
	subject := fmt.Sprintf("[Vigil] %s %s alarm %s (%s)", n.Kind, n.Priority, n.Code, n.Subject)
	var b bytes.Buffer
	header := func(k, v string) {
		fmt.Fprintf(&b, "%s: %s\r\n", k, strings.NewReplacer("\r", "", "\n", "").Replace(v))
	}
	header("From", m.From)
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+id+"@vigil.notification>")
	header("X-Vigil-Notification-Id", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	fmt.Fprintf(&b, "%s alarm %s for %s: %s.\r\n", n.Priority, n.Code, n.Subject, n.Kind)
	fmt.Fprintf(&b, "Alarm: %s\r\nFor user: %s\r\nAt: %s\r\n", n.AlarmID, n.Recipient, n.At.UTC().Format(time.RFC3339))
	return b.Bytes(), nil
}

// send mails one notification to every address in to over a STARTTLS connection.
func (m *SMTP) send(ctx context.Context, id string, to []string, payload []byte, now time.Time) error {
	msg, err := m.message(id, to, payload, now)
	if err != nil {
		return err
	}
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.Addr, err)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", m.Addr, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); !ok {
		return fmt.Errorf("smtp %s: the server does not offer STARTTLS", m.Addr)
	}
	cfg := m.TLS
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if err := c.StartTLS(cfg); err != nil {
		return fmt.Errorf("smtp %s: starttls: %w", m.Addr, err)
	}
	if m.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, host)); err != nil {
			return fmt.Errorf("smtp %s: auth: %w", m.Addr, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp %s: MAIL FROM: %w", m.Addr, err)
	}
	for _, addr := range to {
		if err := c.Rcpt(addr); err != nil {
			return fmt.Errorf("smtp %s: RCPT TO %s: %w", m.Addr, addr, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.Addr, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp %s: DATA: %w", m.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: end of DATA: %w", m.Addr, err)
	}
	if err := c.Quit(); err != nil {
		return fmt.Errorf("smtp %s: QUIT: %w", m.Addr, err)
	}
	return nil
}
