// Package auth proves, on a fresh connection and before any RPC, that both
// ends hold the job's shared secret, without sending it.
//
// The server speaks first, so that a client configured differently gets a
// clear answer instead of a garbled RPC:
//
//	server: "GOMR1 open\n"                       no secret: the RPC starts now
//	server: "GOMR1 auth\n" + 32-byte nonce Ns     a secret is required
//	client: 32-byte nonce Nc + HMAC-SHA256(secret, "client" Ns Nc)
//	server: 1 byte, 1 = accepted or 0 = refused; if accepted,
//	        HMAC-SHA256(secret, "server" Nc Ns)
//
// Both MACs cover both nonces, so a recorded exchange cannot be replayed,
// and the client checks the server's MAC, so a worker does not take tasks
// from a master that only pretends to know the secret. The traffic after
// the handshake is not encrypted or authenticated per message; that is the
// job of TLS.
package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

var (
	// ErrRefused: the server does not accept this client's secret.
	ErrRefused = errors.New("the master refused this worker's secret; give it the master's --secret-file")
	// ErrNeedSecret: the server requires a secret and the client has none.
	ErrNeedSecret = errors.New("the master requires a shared secret; pass --secret-file with the master's secret")
	// ErrNoSecret: the client has a secret and the server uses none.
	ErrNoSecret = errors.New("this worker has a --secret-file but the master uses none; start both with the same --secret-file")
	// ErrBadServer: the server answered but could not prove the secret.
	ErrBadServer = errors.New("the master could not prove it holds the secret; check --master and --secret-file")
)

const (
	helloOpen = "GOMR1 open\n"
	helloAuth = "GOMR1 auth\n"
	nonceLen  = 32
	macLen    = sha256.Size
)

// MinSecret is the shortest secret ReadSecret accepts.
const MinSecret = 16

// ReadSecret reads a secret file, dropping one trailing newline.
func ReadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-file: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	if len(b) < MinSecret {
		return nil, fmt.Errorf("--secret-file %s: %d bytes; a secret needs at least %d (try: head -c 32 /dev/urandom | base64 > %s)", path, len(b), MinSecret, path)
	}
	return b, nil
}

func mac(secret []byte, label string, a, b []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	h.Write(a)
	h.Write(b)
	return h.Sum(nil)
}

// Server runs the server's side of the handshake on conn, within timeout.
// With a nil secret it only says so. It returns nil when the client may go
// on, or an error saying why it may not; the caller then closes conn.
func Server(conn net.Conn, secret []byte, timeout time.Duration) error {
	conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	if secret == nil {
		_, err := io.WriteString(conn, helloOpen)
		return err
	}
	ns := make([]byte, nonceLen)
	rand.Read(ns)
	if _, err := conn.Write(append([]byte(helloAuth), ns...)); err != nil {
		return err
	}
	reply := make([]byte, nonceLen+macLen)
	if _, err := io.ReadFull(conn, reply); err != nil {
		return fmt.Errorf("no handshake from the client: %w", err)
	}
	nc, got := reply[:nonceLen], reply[nonceLen:]
	if !hmac.Equal(got, mac(secret, "client", ns, nc)) {
		conn.Write([]byte{0})
		return errors.New("wrong secret")
	}
	_, err := conn.Write(append([]byte{1}, mac(secret, "server", nc, ns)...))
	return err
}

// Client runs the client's side of the handshake on conn, within timeout.
// The errors ErrRefused, ErrNeedSecret, ErrNoSecret and ErrBadServer mean
// the two ends are configured differently, which retrying will not mend.
func Client(conn net.Conn, secret []byte, timeout time.Duration) error {
	conn.SetDeadline(time.Now().Add(timeout))
	defer conn.SetDeadline(time.Time{})
	hello := make([]byte, len(helloOpen))
	if _, err := io.ReadFull(conn, hello); err != nil {
		// Under TLS 1.3 a master that refuses this worker's certificate
		// says so only now, on the first read.
		return fmt.Errorf("no greeting from the master: %w", TLSError(err))
	}
	switch string(hello) {
	case helloOpen:
		if secret != nil {
			return ErrNoSecret
		}
		return nil
	case helloAuth:
		if secret == nil {
			return ErrNeedSecret
		}
	default:
		return fmt.Errorf("the address does not answer like a gomr master (it said %q)", strings.TrimSpace(string(hello)))
	}
	ns := make([]byte, nonceLen)
	if _, err := io.ReadFull(conn, ns); err != nil {
		return err
	}
	nc := make([]byte, nonceLen)
	rand.Read(nc)
	if _, err := conn.Write(append(nc, mac(secret, "client", ns, nc)...)); err != nil {
		return err
	}
	status := make([]byte, 1)
	if _, err := io.ReadFull(conn, status); err != nil {
		return err
	}
	if status[0] != 1 {
		return ErrRefused
	}
	proof := make([]byte, macLen)
	if _, err := io.ReadFull(conn, proof); err != nil {
		return err
	}
	if !hmac.Equal(proof, mac(secret, "server", nc, ns)) {
		return ErrBadServer
	}
	return nil
}

// Permanent reports whether err is a handshake outcome that retrying
// cannot change.
func Permanent(err error) bool {
	return errors.Is(err, ErrRefused) || errors.Is(err, ErrNeedSecret) || errors.Is(err, ErrNoSecret) ||
		errors.Is(err, ErrBadServer) || errors.Is(err, ErrTLS)
}
