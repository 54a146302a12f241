package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// rawMQTT is a minimal MQTT 3.1.1 client for the benchmarks: CONNECT, QoS 1 PUBLISH with one
// message in flight, SUBSCRIBE, and PUBACK — just enough that the load generator costs far
// less CPU than a general client library, so on a 2-core machine the broker under test, not
// the harness, gets the cores. Vigil and Mosquitto are driven by the same code.
type rawMQTT struct {
	c   net.Conn
	r   *bufio.Reader
	pid uint16
	buf []byte
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendRemaining(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func dialRawMQTT(addr, clientID, user, pass string) (*rawMQTT, error) {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, err
	}
	var body []byte
	body = appendString(body, "MQTT")
	flags := byte(0x02) // clean session
	if user != "" {
		flags |= 0x80
	}
	if pass != "" {
		flags |= 0x40
	}
	body = append(body, 4, flags, 0x01, 0x2c) // level 4, keep-alive 300 s
	body = appendString(body, clientID)
	if user != "" {
		body = appendString(body, user)
	}
	if pass != "" {
		body = appendString(body, pass)
	}
	pkt := appendRemaining([]byte{0x10}, len(body))
	pkt = append(pkt, body...)
	m := &rawMQTT{c: c, r: bufio.NewReaderSize(c, 4096)}
	if _, err := c.Write(pkt); err != nil {
		c.Close()
		return nil, err
	}
	var ack [4]byte
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(m.r, ack[:]); err != nil {
		c.Close()
		return nil, fmt.Errorf("connack: %w", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if ack[0] != 0x20 || ack[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("connect refused: % x", ack)
	}
	return m, nil
}

// publish sends one QoS 1 PUBLISH and waits for its PUBACK.
func (m *rawMQTT) publish(topic string, payload []byte) error {
	m.pid++
	if m.pid == 0 {
		m.pid = 1
	}
	n := 2 + len(topic) + 2 + len(payload)
	m.buf = appendRemaining(append(m.buf[:0], 0x32), n)
	m.buf = appendString(m.buf, topic)
	m.buf = binary.BigEndian.AppendUint16(m.buf, m.pid)
	m.buf = append(m.buf, payload...)
	if _, err := m.c.Write(m.buf); err != nil {
		return err
	}
	var ack [4]byte
	if _, err := io.ReadFull(m.r, ack[:]); err != nil {
		return err
	}
	if ack[0] != 0x40 || binary.BigEndian.Uint16(ack[2:]) != m.pid {
		return fmt.Errorf("unexpected answer % x to publish %d", ack, m.pid)
	}
	return nil
}

// subscribe subscribes with QoS 1 and calls fn for every message, acknowledging each, until
// the connection closes.
func (m *rawMQTT) subscribe(filter string, fn func()) error {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, 1)
	body = appendString(body, filter)
	body = append(body, 1)
	pkt := appendRemaining([]byte{0x82}, len(body))
	if _, err := m.c.Write(append(pkt, body...)); err != nil {
		return err
	}
	var suback [5]byte
	if _, err := io.ReadFull(m.r, suback[:]); err != nil {
		return err
	}
	if suback[0] != 0x90 || suback[4] > 2 {
		return fmt.Errorf("subscribe refused: % x", suback)
	}
	go func() {
		w := bufio.NewWriter(m.c)
		for {
			h, err := m.r.ReadByte()
			if err != nil {
				return
			}
			n, mul := 0, 1
			for {
				d, err := m.r.ReadByte()
				if err != nil {
					return
				}
				n += int(d&0x7f) * mul
				mul *= 128
				if d&0x80 == 0 {
					break
				}
			}
			pkt := make([]byte, n)
			if _, err := io.ReadFull(m.r, pkt); err != nil {
				return
			}
			if h>>4 != 3 {
				continue
			}
			tl := int(binary.BigEndian.Uint16(pkt))
			if h&0x06 != 0 && len(pkt) >= 2+tl+2 {
				pid := pkt[2+tl : 2+tl+2]
				_, _ = w.Write([]byte{0x40, 0x02, pid[0], pid[1]})
				if m.r.Buffered() == 0 {
					if err := w.Flush(); err != nil {
						return
					}
				}
			}
			fn()
		}
	}()
	return nil
}

func (m *rawMQTT) close() error {
	_, err := m.c.Write([]byte{0xe0, 0x00})
	return errors.Join(err, m.c.Close())
}
