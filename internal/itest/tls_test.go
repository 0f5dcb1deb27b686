package itest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gomr.dev/internal/auth"
	"gomr.dev/master"
	"gomr.dev/mr"
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
		if ip := net.ParseIP(name); ip != nil {
			tmpl.DNSNames, tmpl.IPAddresses = nil, []net.IP{ip}
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

// Workers with certificates serve their map output over TLS and fetch each
// other's the same way; nothing on the shuffle port speaks in clear.
func TestShuffleOverTLS(t *testing.T) {
	dir := t.TempDir()
	pki(t, dir, "127.0.0.1")
	crt, key, ca := filepath.Join(dir, "127.0.0.1.crt"), filepath.Join(dir, "127.0.0.1.key"), filepath.Join(dir, "ca.crt")
	serverCfg, err := auth.ServerTLS(crt, key, ca)
	if err != nil {
		t.Fatal(err)
	}
	clientCfg, err := auth.ClientTLS("", ca, crt, key)
	if err != nil {
		t.Fatal(err)
	}
	files := writeInputs(t, t.TempDir(), 6)
	a := wordCount()
	want := reference(t, a, files)
	slow := wordCount()
	mapf := slow.Map
	slow.Map = func(file, contents string) []mr.KeyValue {
		time.Sleep(20 * time.Millisecond) // so that both workers get map tasks
		return mapf(file, contents)
	}
	c := startMaster(t, master.Options{Inputs: files, NReduce: 4, Secret: testSecret})
	addrs := make(chan string, 100)
	var done []<-chan error
	for i := range 2 {
		client, _ := worker.NewClient(c.m.Addr(), 5*time.Second, testSecret)
		defer client.Close()
		m := &addrMaster{Client: client, t: t, addrs: addrs}
		res := make(chan error, 1)
		go func() {
			res <- worker.Run(c.ctx, worker.Options{
				App: slow, Master: m, ID: fmt.Sprint("w", i), ConnectTimeout: 3 * time.Second,
				WorkDir: t.TempDir(),
				Shuffle: worker.ShuffleOptions{Listen: "127.0.0.1:0", Secret: testSecret, ServerTLS: serverCfg, ClientTLS: clientCfg},
			})
		}()
		done = append(done, res)
	}
	if err := c.wait(); err != nil {
		t.Fatal(err)
	}
	for _, d := range done {
		if err := <-d; err != nil {
			t.Errorf("worker: %v", err)
		}
	}
	close(addrs)
	seen := map[string]bool{}
	for a := range addrs {
		seen[a] = true
	}
	if len(seen) != 2 {
		t.Errorf("map output served from %d addresses; want both workers'", len(seen))
	}
	if got := sortedOutput(t, c.out); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatal("output differs from sequential")
	}
}

// addrMaster notes where each map output is served, and checks that the
// server there does not speak in clear.
type addrMaster struct {
	*worker.Client
	t     *testing.T
	addrs chan<- string
}

func (m *addrMaster) Report(ctx context.Context, rep mr.ReportArgs) (mr.ReportReply, error) {
	if rep.Addr != "" {
		m.addrs <- rep.Addr
		// A TLS server waits for the client to speak first; a plain one
		// greets at once.
		if c, err := net.Dial("tcp", rep.Addr); err == nil {
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if n, _ := c.Read(make([]byte, 16)); n > 0 {
				m.t.Errorf("the shuffle server at %s spoke in clear", rep.Addr)
			}
			c.Close()
		}
	}
	return m.Client.Report(ctx, rep)
}
