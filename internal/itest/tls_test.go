package itest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/master"
	"gomr.dev/worker"
)

// pki writes a CA and a certificate it signed for each name, as PEM files
// in dir: NAME.crt and NAME.key, and ca.crt.
func pki(t *testing.T, dir string, names ...string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER)
	for i, name := range names {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: name},
			DNSNames:  []string{name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		writePEM(t, filepath.Join(dir, name+".crt"), "CERTIFICATE", der)
		writePEM(t, filepath.Join(dir, name+".key"), "EC PRIVATE KEY", keyDER)
	}
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Mutual TLS with a shared secret on top: a worker with the CA and its own
// certificate does the job; one trusting another CA, or without a
// certificate, gives up at once with a TLS error instead of retrying.
func TestTLS(t *testing.T) {
	good, other := t.TempDir(), t.TempDir()
	pki(t, good, "localhost", "worker")
	pki(t, other, "localhost")
	serverCfg, err := auth.ServerTLS(filepath.Join(good, "localhost.crt"), filepath.Join(good, "localhost.key"), filepath.Join(good, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("a secret of at least 16 bytes")
	files := writeInputs(t, t.TempDir(), 3)
	a := wordCount()
	want := reference(t, a, files)
	c := startMaster(t, master.Options{Inputs: files, NReduce: 2, TLS: serverCfg, Secret: secret})

	run := func(ca, cert, key string) error {
		cfg, err := auth.ClientTLS("localhost", ca, cert, key)
		if err != nil {
			t.Fatal(err)
		}
		client, _ := worker.NewClient(c.m.Addr(), 5*time.Second, secret)
		client.UseTLS(cfg)
		defer client.Close()
		return worker.Run(c.ctx, worker.Options{App: a, Master: client, ID: "w", ConnectTimeout: 5 * time.Second})
	}
	start := time.Now()
	if err := run(filepath.Join(other, "ca.crt"), "", ""); !errors.Is(err, auth.ErrTLS) {
		t.Errorf("worker trusting another CA: %v; want a TLS error", err)
	}
	if err := run(filepath.Join(good, "ca.crt"), "", ""); !errors.Is(err, auth.ErrTLS) {
		t.Errorf("worker without a certificate: %v; want a TLS error", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("refused workers took %v to give up; they should not retry", d)
	}
	if err := run(filepath.Join(good, "ca.crt"), filepath.Join(good, "worker.crt"), filepath.Join(good, "worker.key")); err != nil {
		t.Fatalf("worker with the right CA and certificate: %v", err)
	}
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatal("output differs from sequential")
	}
}
