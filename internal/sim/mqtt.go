package sim

import (
	"context"
	"crypto/tls"
	"fmt"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// MQTTSender publishes packs over MQTT, one connection per device with the device's own
// credentials (username = device id, password = secret), QoS 1 on vigil/v1/{device}/senml.
// Send returns once the broker acknowledged (PUBACK), which for Vigil's broker means durable.
type MQTTSender struct {
	Broker string      // tcp://host:port or ssl://host:port
	TLS    *tls.Config // for ssl://; nil for the system roots

	mu      sync.Mutex // guards clients
	clients map[string]mqtt.Client
}

// Send publishes one pack as d.
func (s *MQTTSender) Send(ctx context.Context, d *Device, pack []byte) error {
	c, err := s.client(ctx, d)
	if err != nil {
		return err
	}
	tok := c.Publish("vigil/v1/"+d.ID+"/senml", 1, false, pack)
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *MQTTSender) client(ctx context.Context, d *Device) (mqtt.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[d.ID]; ok {
		return c, nil
	}
	opts := mqtt.NewClientOptions().AddBroker(s.Broker).SetClientID(d.ID).
		SetUsername(d.ID).SetPassword(d.Secret).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetConnectTimeout(10 * time.Second).SetKeepAlive(60 * time.Second)
	if s.TLS != nil {
		opts.SetTLSConfig(s.TLS)
	}
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("connect %s as %s: %w", s.Broker, d.ID, err)
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if s.clients == nil {
		s.clients = map[string]mqtt.Client{}
	}
	s.clients[d.ID] = c
	return c, nil
}

// Close disconnects every device.
func (s *MQTTSender) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		c.Disconnect(250)
	}
	s.clients = nil
}
