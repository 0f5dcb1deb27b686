package auth

import (
	"errors"
	"net"
	"testing"
	"time"
)

func handshake(t *testing.T, server, client []byte) (serr, cerr error) {
	t.Helper()
	s, c := net.Pipe()
	defer s.Close()
	defer c.Close()
	done := make(chan error, 1)
	go func() {
		err := Server(s, server, time.Second)
		if err != nil {
			s.Close() // as the master does, so the client is not left waiting
		}
		done <- err
	}()
	cerr = Client(c, client, time.Second)
	c.Close()
	return <-done, cerr
}

func TestHandshake(t *testing.T) {
	good := []byte("0123456789abcdef-good")
	bad := []byte("0123456789abcdef-bad!")
	for _, tc := range []struct {
		name           string
		server, client []byte
		serverOK       bool
		clientErr      error
	}{
		{"same secret", good, good, true, nil},
		{"no secrets", nil, nil, true, nil},
		{"wrong secret", good, bad, false, ErrRefused},
		{"client lacks one", good, nil, false, ErrNeedSecret},
		{"server lacks one", nil, good, true, ErrNoSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serr, cerr := handshake(t, tc.server, tc.client)
			if (serr == nil) != tc.serverOK && tc.clientErr != ErrNeedSecret {
				t.Errorf("server: %v", serr)
			}
			if !errors.Is(cerr, tc.clientErr) || (tc.clientErr == nil && cerr != nil) {
				t.Errorf("client: %v; want %v", cerr, tc.clientErr)
			}
			if tc.clientErr != nil && !Permanent(cerr) {
				t.Errorf("Permanent(%v) = false", cerr)
			}
		})
	}
}

// A server that does not know the secret but answers "accepted" anyway is
// caught by the client.
func TestClientChecksServer(t *testing.T) {
	s, c := net.Pipe()
	defer s.Close()
	defer c.Close()
	go func() {
		s.Write(append([]byte(helloAuth), make([]byte, nonceLen)...))
		buf := make([]byte, nonceLen+macLen)
		readFull(s, buf)
		s.Write(append([]byte{1}, make([]byte, macLen)...))
	}()
	if err := Client(c, []byte("0123456789abcdef"), time.Second); !errors.Is(err, ErrBadServer) {
		t.Fatalf("client: %v; want ErrBadServer", err)
	}
}

func readFull(c net.Conn, b []byte) {
	for n := 0; n < len(b); {
		m, err := c.Read(b[n:])
		if err != nil {
			return
		}
		n += m
	}
}

func TestNotAMaster(t *testing.T) {
	s, c := net.Pipe()
	defer s.Close()
	go s.Write([]byte("HTTP/1.1 400 \r\n"))
	if err := Client(c, nil, time.Second); err == nil || Permanent(err) {
		t.Fatalf("client: %v; want a non-permanent error naming the greeting", err)
	}
}
