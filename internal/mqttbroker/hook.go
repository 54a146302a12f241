package mqttbroker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/devicecert"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// UserClientPrefix starts the client identifier of every user connection:
// "user:{username}" or "user:{username}:{anything}". A device's client identifier is its id.
const UserClientPrefix = "user:"

// principal is who a connection authenticated as: a device or a user.
type principal struct {
	device ingest.Device // device connections
	user   string        // user connections: the username
	tenant string
}

func (p principal) isDevice() bool { return p.device.ID != "" }

// v3 CONNACK return codes (MQTT 3.1.1 §3.2.2.3); mochi maps only some v5 codes to them.
const (
	v3IdentifierRejected  = 0x02
	v3BadUsernamePassword = 0x04
	v3NotAuthorized       = 0x05
	v3ServerUnavailable   = 0x03
)

// hook is the mochi hook: authentication on CONNECT, ACL on SUBSCRIBE and delivery, ingest on
// PUBLISH, connectivity on session start and end.
type hook struct {
	mqtt.HookBase
	b *Broker

	mu      sync.RWMutex // guards ctx and clients
	ctx     context.Context
	clients map[*mqtt.Client]principal // authenticated connections, from OnConnect to OnDisconnect

	droppedLogged atomic.Int64 // unix nanoseconds of the last dropped-message log line
}

func (h *hook) ID() string { return "vigil" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnWill, mqtt.OnPublishDropped,
	}, []byte{b})
}

// OnPublishDropped counts a message mochi did not queue for cl: its outbound queue
// (clientWritesPending) was full.
// It logs at most one line every 10 s, so a stalled subscriber cannot flood the log.
func (h *hook) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	h.b.metrics.dropped.Inc()
	now := time.Now().UnixNano()
	if last := h.droppedLogged.Load(); now-last >= int64(10*time.Second) && h.droppedLogged.CompareAndSwap(last, now) {
		h.b.log.Warn("mqtt: message dropped for a client too far behind (vigil_mqtt_dropped_total counts all)",
			"client", cl.ID, "topic", pk.TopicName, "queue", clientWritesPending)
	}
}

// setContext gives the hook the broker's lifetime context (hooks get none from mochi): every
// ingest and credential check derives from it, so shutdown cancels them.
func (h *hook) setContext(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
}

func (h *hook) context() context.Context {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.ctx == nil {
		return context.TODO() // Run not called yet: no client can be connected
	}
	return h.ctx
}

func (h *hook) principal(cl *mqtt.Client) (principal, bool) {
	h.mu.RLock()
	p, ok := h.clients[cl]
	h.mu.RUnlock()
	return p, ok
}

// refuseConnect writes a CONNACK with the v5 code or, for 3.1.1, its v3 return code, and
// returns the code as the error that ends the connection.
func (h *hook) refuseConnect(cl *mqtt.Client, code packets.Code, v3 byte, why string) error {
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: code.Code}
	if cl.Properties.ProtocolVersion < 5 {
		ack.ReasonCode = v3
	} else {
		ack.Properties.ReasonString = why
	}
	h.b.metrics.connectsRefused.WithLabelValues(reasonLabel(code)).Inc()
	h.b.log.Info("mqtt connect refused", "client", cl.ID, "username", string(cl.Properties.Username),
		"remote", cl.Net.Remote, "code", fmt.Sprintf("0x%02x", code.Code), "reason", why)
	if err := cl.WritePacket(ack); err != nil {
		return fmt.Errorf("refuse connect of %s: %w", cl.ID, err)
	}
	return code
}

// OnConnect authenticates the connection and checks its client identifier and will.
func (h *hook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	username, password := string(cl.Properties.Username), string(pk.Connect.Password)
	ctx, cancel := context.WithTimeout(h.context(), h.b.cfg.AuthTimeout)
	defer cancel()
	var p principal
	if rest, ok := strings.CutPrefix(cl.ID, UserClientPrefix); ok {
		name, _, _ := strings.Cut(rest, ":")
		if name == "" || name != username {
			return h.refuseConnect(cl, packets.ErrClientIdentifierNotValid, v3IdentifierRejected,
				"a user's client identifier is user:{username} or user:{username}:{suffix}")
		}
		up, err := h.b.cfg.Auth.Authenticate(ctx, password)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated), err == nil && up.Username != username:
			return h.refuseConnect(cl, packets.ErrBadUsernameOrPassword, v3BadUsernamePassword, "bad username or API token")
		case err != nil:
			h.b.log.Error("mqtt user authentication", "username", username, "err", err)
			return h.refuseConnect(cl, packets.ErrServerUnavailable, v3ServerUnavailable, "authentication unavailable")
		}
		if pk.Connect.WillFlag {
			return h.refuseConnect(cl, packets.ErrNotAuthorized, v3NotAuthorized, "users may not set a will")
		}
		p = principal{user: up.Username, tenant: up.Tenant}
	} else {
		// A device without a password that presented a client certificate on the TLS listener
		// authenticates by the certificate, which names it (CN = device id).
		chain := peerCertificates(cl)
		byCert := h.b.certs != nil && len(chain) > 0 && !pk.Connect.PasswordFlag
		id, idRule := username, "a device's client identifier must be its device id (the username)"
		if byCert {
			id, idRule = devicecert.DeviceID(chain[0]), "a device's client identifier must be its device id (the certificate's CN)"
			if username != "" && username != id {
				return h.refuseConnect(cl, packets.ErrBadUsernameOrPassword, v3BadUsernamePassword,
					"the username must be the device id the certificate names (its CN), or be left out")
			}
		}
		if cl.ID != id {
			return h.refuseConnect(cl, packets.ErrClientIdentifierNotValid, v3IdentifierRejected, idRule)
		}
		if !validDeviceID(id) {
			return h.refuseConnect(cl, packets.ErrClientIdentifierNotValid, v3IdentifierRejected,
				"device id not usable as an MQTT topic level")
		}
		var (
			d   store.Device
			err error
			bad = "bad device id or secret"
		)
		if byCert {
			d, err = h.b.certs.authenticate(ctx, id, chain, h.b.cfg.Now())
			bad = "client certificate not accepted for this device"
		} else {
			d, err = h.b.cfg.Auth.AuthenticateDevice(ctx, username, password)
		}
		switch {
		case errors.Is(err, auth.ErrDeviceRevoked):
			return h.refuseConnect(cl, packets.ErrNotAuthorized, v3NotAuthorized, "device revoked")
		case errors.Is(err, auth.ErrInvalidCredentials):
			if byCert {
				h.b.log.Info("mqtt client certificate refused", "device", id, "remote", cl.Net.Remote, "err", err)
			}
			return h.refuseConnect(cl, packets.ErrBadUsernameOrPassword, v3BadUsernamePassword, bad)
		case err != nil:
			h.b.log.Error("mqtt device authentication", "device", id, "certificate", byCert, "err", err)
			return h.refuseConnect(cl, packets.ErrServerUnavailable, v3ServerUnavailable, "authentication unavailable")
		}
		if pk.Connect.WillFlag && pk.Connect.WillTopic != topicRoot+d.ID+"/status" {
			return h.refuseConnect(cl, packets.ErrNotAuthorized, v3NotAuthorized,
				"a device's will topic must be "+topicRoot+d.ID+"/status")
		}
		p = principal{device: ingest.Device{Tenant: d.Tenant, ID: d.ID, Kind: d.Kind, Subject: d.Subject}, tenant: d.Tenant}
	}
	h.mu.Lock()
	if h.clients == nil {
		h.clients = map[*mqtt.Client]principal{}
	}
	h.clients[cl] = p
	h.mu.Unlock()
	return nil
}

// OnConnectAuthenticate admits the connections OnConnect authenticated.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, _ packets.Packet) bool {
	_, ok := h.principal(cl)
	return ok
}

// OnACLCheck is asked for subscription filters and, at delivery, for topics (write false), and
// for publishes (write true), which OnPublish decides with reason codes instead.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write {
		return true
	}
	p, ok := h.principal(cl)
	if !ok {
		return false
	}
	allowed := p.isDevice() && filterWithin(topic, deviceCommandPrefix(p.device.ID)) ||
		!p.isDevice() && filterWithin(topic, tenantPrefix(p.tenant))
	if !allowed {
		h.b.metrics.subscribesRefused.Inc()
	}
	return allowed
}

// OnPublish ingests a device's pack. mochi writes the PUBACK only after this returns (see
// processPublish in mochi-mqtt v2.7.9 server.go), so a PUBACK means the readings are durable.
// Accepted packs are answered with CodeSuccessIgnore: PUBACK success, not relayed, not retained.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline { // the broker's own announcements and commands
		return pk, nil
	}
	p, ok := h.principal(cl)
	if !ok {
		return pk, packets.ErrRejectPacket
	}
	if !p.isDevice() {
		return pk, h.refuse(cl, pk, p, reasonNotAuthorized,
			packets.Code{Code: packets.ErrNotAuthorized.Code, Reason: "users may not publish"})
	}
	var contentType string
	switch classifyPublish(p.device.ID, pk.TopicName) {
	case pubSenML, pubSenMLCBOR:
		contentType = pk.Properties.ContentType // MQTT 5 property wins; empty: sniffed (senml.md §1)
	case pubStatus:
		return pk, packets.CodeSuccessIgnore
	case pubBLE:
		return pk, h.refuse(cl, pk, p, reasonUnsupported, packets.Code{Code: packets.ErrImplementationSpecificError.Code,
			Reason: "BLE characteristics are not decoded yet; publish SenML to " + topicRoot + p.device.ID + "/senml"})
	case pubUnknownLeaf:
		return pk, h.refuse(cl, pk, p, reasonUnknownTopic, packets.Code{Code: packets.ErrTopicNameInvalid.Code,
			Reason: "no such topic; a device publishes to " + topicRoot + p.device.ID + "/senml or /senml-cbor"})
	default:
		return pk, h.refuse(cl, pk, p, reasonNotAuthorized, packets.Code{Code: packets.ErrNotAuthorized.Code,
			Reason: "a device publishes only under " + topicRoot + p.device.ID + "/"})
	}
	ctx, cancel := context.WithTimeout(h.context(), h.b.cfg.IngestTimeout)
	defer cancel()
	_, err := h.b.cfg.Ingest.Ingest(ctx, "mqtt", p.device, pk.Payload, contentType)
	if err == nil {
		return pk, packets.CodeSuccessIgnore
	}
	if _, ok := errors.AsType[*ingest.UnavailableError](err); ok || ctx.Err() != nil {
		h.b.metrics.publishRejected.WithLabelValues(version(cl), reasonUnavailable).Inc()
		h.b.log.Warn("mqtt pack not acknowledged: log unavailable", "device", p.device.ID, "tenant", p.tenant, "err", err)
		switch {
		case pk.FixedHeader.Qos == 0:
			return pk, packets.ErrRejectPacket
		case cl.Properties.ProtocolVersion == 5:
			return pk, packets.Code{Code: packets.ErrUnspecifiedError.Code, Reason: "log unavailable; publish again"}
		default: // 3.1.1 has no negative PUBACK: close, and the client resends on reconnect
			cl.Stop(packets.ErrServerUnavailable)
			return pk, packets.ErrRejectPacket
		}
	}
	return pk, h.refuse(cl, pk, p, ingest.Reason(err), packets.Code{Code: packets.ErrPayloadFormatInvalid.Code, Reason: err.Error()})
}

// refuse counts and logs a rejected publish and returns what mochi must do with it: MQTT 5 QoS 1
// gets a PUBACK with code; MQTT 3.1.1 QoS 1 gets a plain PUBACK (3.1.1 has no negative one) and
// the pack is dropped; QoS 0 is dropped.
func (h *hook) refuse(cl *mqtt.Client, pk packets.Packet, p principal, reason string, code packets.Code) error {
	v := version(cl)
	h.b.metrics.publishRejected.WithLabelValues(v, reason).Inc()
	who := "device"
	id := p.device.ID
	if !p.isDevice() {
		who, id = "user", p.user
	}
	h.b.log.Warn("mqtt publish rejected", who, id, "tenant", p.tenant, "topic", pk.TopicName, "protocol", v,
		"reason", reason, "detail", code.Reason)
	switch {
	case pk.FixedHeader.Qos == 0:
		return packets.ErrRejectPacket
	case cl.Properties.ProtocolVersion == 5:
		return code
	default:
		return packets.CodeSuccessIgnore
	}
}

func version(cl *mqtt.Client) string {
	switch cl.Properties.ProtocolVersion {
	case 5:
		return "5"
	case 4:
		return "3.1.1"
	}
	return "3.1"
}

// OnSessionEstablished records that a device connected.
func (h *hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if p, ok := h.principal(cl); ok && p.isDevice() {
		h.b.conn.connected(p.device, h.b.cfg.Now())
	}
}

// OnDisconnect records that a device's connection ended and forgets the connection. mochi
// passes err nil only for the client's normal DISCONNECT (closed on purpose, will discarded);
// any other end (connection dropped, keep-alive expired, protocol error, MQTT 5 DISCONNECT
// 0x04 asking for the will) is a lost session. The broker's own shutdown is kept off the log:
// the server going away is not the device's session being lost, and a crash could not log it
// either.
func (h *hook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	p, ok := h.principal(cl)
	if !ok {
		return
	}
	h.mu.Lock()
	delete(h.clients, cl)
	h.mu.Unlock()
	if p.isDevice() {
		why := reading.ConnLost
		if err == nil {
			why = reading.ConnClosed
		}
		h.b.conn.disconnected(p.device, why, !h.b.closing.Load(), h.b.cfg.Now())
	}
}

// OnWill keeps a device's will (on its own status topic, checked at CONNECT) from being retained.
func (h *hook) OnWill(_ *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	will.Retain = false
	return will, nil
}
