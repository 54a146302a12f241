package sim

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
)

// HTTPSender posts packs to a Vigil server's HTTP ingest with each device's Basic credentials.
type HTTPSender struct {
	Client  *http.Client
	BaseURL string // e.g. http://127.0.0.1:8080
}

// Send posts one pack and expects 202.
func (h HTTPSender) Send(ctx context.Context, d *Device, pack []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.BaseURL+"/api/v1/ingest", bytes.NewReader(pack))
	if err != nil {
		return err
	}
	req.SetBasicAuth(d.ID, d.Secret)
	req.Header.Set("Content-Type", "application/senml+json")
	resp, err := h.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("ingest: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}
