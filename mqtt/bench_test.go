package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"

	"github.com/midge-mqtt/midge/mqtt"
	"github.com/midge-mqtt/midge/packet"
)

// sink is a stream that takes every write at once and has nothing to read.
type sink struct {
	once sync.Once
	done chan struct{}
}

func newSink() *sink { return &sink{done: make(chan struct{})} }

func (s *sink) Read([]byte) (int, error)    { <-s.done; return 0, io.EOF }
func (s *sink) Write(b []byte) (int, error) { return len(b), nil }
func (s *sink) Close() error                { s.once.Do(func() { close(s.done) }); return nil }

// benchPublish is a typical small message: 64 bytes of payload.
var benchPublish = &packet.Publish{Topic: "sensors/42/temperature", Payload: bytes.Repeat([]byte{'x'}, 64), QoS: 1, ID: 7}

// publish sends p, yielding to the writer while the queue is full, which a
// producer that never blocks can outrun.
func publish(b *testing.B, c *mqtt.Conn, p *packet.Publish) {
	err := c.Publish(p)
	for errors.Is(err, mqtt.ErrQueueFull) {
		runtime.Gosched()
		err = c.Publish(p)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublish measures a send on the steady path: encoding into the
// pending buffer under the lock, and the writer's share of the work. It
// must not allocate.
func BenchmarkPublish(b *testing.B) {
	c := mqtt.NewConn(newSink(), nil)
	defer c.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(mustEncode(b, benchPublish, packet.V311))))
	for b.Loop() {
		publish(b, c, benchPublish)
	}
}

// BenchmarkPublishParallel sends from many goroutines to one connection.
func BenchmarkPublishParallel(b *testing.B) {
	c := mqtt.NewConn(newSink(), nil)
	defer c.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(mustEncode(b, benchPublish, packet.V311))))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			publish(b, c, benchPublish)
		}
	})
}

// BenchmarkWriteEncoded sends a PUBLISH encoded once, as a broker does for
// many subscribers.
func BenchmarkWriteEncoded(b *testing.B) {
	c := mqtt.NewConn(newSink(), nil)
	defer c.Close()
	enc := mustEncode(b, benchPublish, packet.V311)
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		err := c.WriteEncoded(enc)
		for errors.Is(err, mqtt.ErrQueueFull) {
			runtime.Gosched()
			err = c.WriteEncoded(enc)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishTCP sends over loopback TCP to a peer that reads
// everything.
func BenchmarkPublishTCP(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	drained := make(chan error, 1)
	go func() {
		nc, err := l.Accept()
		if err == nil {
			_, err = io.Copy(io.Discard, nc)
			nc.Close()
		}
		drained <- err
	}()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c := mqtt.NewConn(nc, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(mustEncode(b, benchPublish, packet.V311))))
	for b.Loop() {
		publish(b, c, benchPublish)
	}
	if err := c.Close(); err != nil {
		b.Fatal(err)
	}
	if err := <-drained; err != nil {
		b.Fatal(err)
	}
}

// repeater is a stream that reads as the same bytes over and over.
type repeater struct {
	b   []byte
	off int
}

func (r *repeater) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.b[r.off:])
		n += c
		r.off = (r.off + c) % len(r.b)
	}
	return n, nil
}
func (r *repeater) Write(b []byte) (int, error) { return len(b), nil }
func (r *repeater) Close() error                { return nil }

// BenchmarkReadPacket reads PUBLISH packets: the codec's two allocations
// per packet (the packet and its body) are all there is.
func BenchmarkReadPacket(b *testing.B) {
	enc := mustEncode(b, benchPublish, packet.V311)
	c := mqtt.NewConn(&repeater{b: enc}, nil)
	defer c.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := c.ReadPacket(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServeAck serves QoS 1 PUBLISHes over loopback TCP, pipelined,
// each answered with a PUBACK: the path of a publisher's acknowledgements,
// which the reader goroutine writes itself when no writer runs.
func BenchmarkServeAck(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &mqtt.Server{Handler: &mqtt.Events{
		Connect: func(_ context.Context, c *mqtt.Conn, _ *packet.Connect) error { return c.Connack(&packet.Connack{}) },
		Publish: func(_ context.Context, c *mqtt.Conn, p *packet.Publish) error {
			return c.Puback(&packet.Puback{ID: p.ID})
		},
	}}
	go srv.Serve(l)
	defer srv.Close()
	nc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c := mqtt.NewConn(nc, &mqtt.Options{Version: packet.V311})
	defer c.Close()
	c.Connect(&packet.Connect{ClientID: "bench", CleanStart: true})
	if _, err := c.ReadPacket(); err != nil {
		b.Fatal(err)
	}
	acked := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := c.ReadPacket(); err != nil {
				acked <- err
				return
			}
		}
		acked <- nil
	}()
	p := *benchPublish
	for i := range b.N {
		p.ID = uint16(i%65535 + 1)
		publish(b, c, &p)
	}
	if err := <-acked; err != nil {
		b.Fatal(err)
	}
}
