package auth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// ErrTLS marks a TLS handshake that failed over certificates, which
// retrying will not mend.
var ErrTLS = errors.New("TLS handshake failed")

// ServerTLS builds the master's TLS configuration from its certificate and
// key, and, when caFile is set, requires every worker to present a
// certificate signed by that CA.
func ServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ClientTLS builds a worker's TLS configuration: the master's certificate
// must be signed by caFile's CA (the system's roots when caFile is empty)
// and name serverName; certFile and keyFile, when set, are the worker's
// own certificate for a master that asks for one.
func ClientTLS(serverName, caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS13}
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Connect runs, on a new connection to a master or a worker's shuffle
// server, the TLS handshake (when cfg is not nil) and then the secret
// handshake, each within timeout. It returns the connection to use, or an
// error after closing conn.
func Connect(ctx context.Context, conn net.Conn, cfg *tls.Config, secret []byte, timeout time.Duration) (net.Conn, error) {
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, TLSError(err)
		}
		conn = tc
	}
	if err := Client(conn, secret, timeout); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// TLSError wraps err in ErrTLS when it is a certificate problem or an
// alert from the peer, which retrying will not mend, and returns it as is
// otherwise.
func TLSError(err error) error {
	var certErr *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var op *net.OpError // an alert from the peer comes as a "remote error"
	if errors.As(err, &certErr) || errors.As(err, &unknown) || errors.As(err, &op) && op.Op == "remote error" {
		return fmt.Errorf("%w: %v", ErrTLS, err)
	}
	return err
}
