package mqtt

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/midge-mqtt/midge/packet"
)

// TestWriterLingerBoundary sends the answers of a QoS 2 flow across the
// moment an idle writer gives up its goroutine, many times over, with the
// linger shortened to a few milliseconds: no answer may be lost to a
// writer that exits just as a send arrives.
func TestWriterLingerBoundary(t *testing.T) {
	old := writerLinger
	writerLinger = 2 * time.Millisecond
	defer func() { writerLinger = old }()

	srv := &Server{Handler: &Events{
		Connect: func(_ context.Context, c *Conn, _ *packet.Connect) error { return c.Connack(&packet.Connack{}) },
		Publish: func(_ context.Context, c *Conn, p *packet.Publish) error { return c.Pubrec(&packet.Pubrec{ID: p.ID}) },
		Pubrel:  func(_ context.Context, c *Conn, p *packet.Pubrel) error { return c.Pubcomp(&packet.Pubcomp{ID: p.ID}) },
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	defer srv.Close()

	const clients, flows = 8, 150
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			nc, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			c := NewConn(nc, &Options{Version: packet.V311})
			defer c.Close()
			read := func(want packet.Type) bool {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				p, err := c.ReadPacket()
				if err != nil || p.Type() != want {
					t.Errorf("client %d: want %v, got %v (%v)", i, want, p, err)
					return false
				}
				return true
			}
			c.Connect(&packet.Connect{ClientID: "c", CleanStart: true})
			if !read(packet.TypeConnack) {
				return
			}
			for f := range flows {
				id := uint16(f + 1)
				c.Publish(&packet.Publish{Topic: "t", QoS: 2, ID: id})
				if !read(packet.TypePubrec) {
					return
				}
				// Pause around the linger, so that both the server's writer
				// and this client's sometimes exit just as a send comes.
				time.Sleep(time.Duration(r.IntN(4000)) * time.Microsecond)
				c.Pubrel(&packet.Pubrel{ID: id})
				if !read(packet.TypePubcomp) {
					return
				}
			}
		}()
	}
	wg.Wait()
}
