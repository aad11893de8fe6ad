package faultnet_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/rechargekit/rechargekit/internal/faultnet"
)

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, deadline time.Duration) (string, error) {
	c.SetDeadline(time.Now().Add(deadline))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return "", err
	}
	return r.ReadString('\n')
}

func TestModes(t *testing.T) {
	t.Parallel()
	p := faultnet.New(t, echo(t))
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, 5*time.Second); err != nil || got != "ping\n" {
		t.Fatalf("pass: got %q, %v", got, err)
	}

	p.SetMode(faultnet.Hang)
	if got, err := roundTrip(c, r, 100*time.Millisecond); err == nil {
		t.Fatalf("hang: got an answer %q", got)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("hang: want a timeout, got %v", err)
	}
	// A new connection is accepted and hangs too.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("hang: dial: %v", err)
	}
	defer c2.Close()
	if got, err := roundTrip(c2, bufio.NewReader(c2), 100*time.Millisecond); err == nil {
		t.Fatalf("hang: new connection got %q", got)
	}

	// Back to Pass: the held bytes arrive (two pings were written on c).
	p.SetMode(faultnet.Pass)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "ping\n" {
		t.Fatalf("resume: got %q, %v", got, err)
	}

	p.SetMode(faultnet.Refuse)
	c3, err := net.Dial("tcp", p.Addr())
	if err == nil {
		defer c3.Close()
		if got, err := roundTrip(c3, bufio.NewReader(c3), 5*time.Second); err == nil {
			t.Fatalf("refuse: got %q", got)
		}
	}
	if _, err := roundTrip(c, r, 5*time.Second); err == nil {
		t.Fatal("refuse: an open connection still answers")
	}
}
