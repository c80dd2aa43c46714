package rsyslogtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Certs are a CA, a server certificate for 127.0.0.1 and client
// certificates signed by it, as files of a test: for mutual TLS.
type Certs struct {
	CA, Cert, Key string
	ca            *x509.Certificate
	caKey         *ecdsa.PrivateKey
	dir           string
}

// MakeCerts makes the CA and the server certificate (for 127.0.0.1) in dir.
func MakeCerts(t testing.TB, dir string) *Certs {
	t.Helper()
	c := &Certs{dir: dir}
	c.caKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gotrail test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &c.caKey.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	c.ca, _ = x509.ParseCertificate(der)
	c.CA = filepath.Join(dir, "ca.pem")
	os.WriteFile(c.CA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	c.Cert, c.Key = c.write(t, "server", &x509.Certificate{
		Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return c
}

// write signs tmpl with the CA and writes the certificate and its key.
func (c *Certs) write(t testing.TB, name string, tmpl *x509.Certificate) (cert, key string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.ca, &k.PublicKey, c.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(c.dir, name+".pem"), filepath.Join(c.dir, name+".key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	return cert, key
}

// ClientFiles makes a client certificate named name (its CN and DNS
// name) and writes it and its key as PEM files.
func (c *Certs) ClientFiles(t testing.TB, name string) (cert, key string) {
	t.Helper()
	return c.write(t, "client-"+name, &x509.Certificate{
		Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// Client is a client certificate named name, for a TLS client of the test.
func (c *Certs) Client(t testing.TB, name string) tls.Certificate {
	t.Helper()
	cert, key := c.ClientFiles(t, name)
	tc, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// Pool is the CA as a pool, for the clients to check the server.
func (c *Certs) Pool(t testing.TB) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(c.CA)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(data)
	return p
}

// FreePort is a loopback TCP port nothing listens on.
func FreePort(t testing.TB) int { return freePort(t, "tcp") }

// Run starts rsyslogd with the configuration file conf (checked with -N1
// first), stops it by its pid when the test ends, and waits until it
// listens on addr.
func Run(t testing.TB, conf, addr string) {
	t.Helper()
	if out, err := exec.Command("rsyslogd", "-N1", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 rejects %s: %v\n%s", conf, err, out)
	}
	out := Spawn(t, exec.Command("rsyslogd", "-n", "-f", conf, "-i", conf+".pid"))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rsyslogd not listening on %s: %v\n%s", addr, err, out.String())
		}
	}
}

// Spawn starts cmd, an rsyslogd in the foreground (-n), so that it dies
// with the test process and is stopped by its own pid when the test ends,
// and returns what it writes. Pdeathsig fires when the *thread* that
// forked it exits, and the Go runtime retires threads (RunAs of
// auditdtest does, on purpose): the fork is made from a goroutine that
// keeps its thread, waiting, as long as rsyslogd runs.
func Spawn(t testing.TB, cmd *exec.Cmd) *bytes.Buffer {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, done := make(chan error, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			cmd.Wait()
		}
		close(done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("rsyslogd: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) // our own pid
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("rsyslogd said:\n%s", out.String())
		}
	})
	return &out
}
