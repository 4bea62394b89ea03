package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLSFiles names the PEM files of a mutual-TLS setup.
type TLSFiles struct {
	Cert, Key, CACert string
}

// Enabled reports whether any TLS file is set.
func (t TLSFiles) Enabled() bool { return t.Cert != "" || t.Key != "" || t.CACert != "" }

// ServerConfig builds the cache's TLS config: its certificate, and client
// certificates required and verified against CACert.
func (t TLSFiles) ServerConfig() (*tls.Config, error) {
	cert, pool, err := t.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// ClientConfig builds the proxy's TLS config: its client certificate, and
// the cache's certificate verified against CACert for serverName.
func (t TLSFiles) ClientConfig(serverName string) (*tls.Config, error) {
	cert, pool, err := t.load()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

func (t TLSFiles) load() (tls.Certificate, *x509.CertPool, error) {
	if t.Cert == "" || t.Key == "" || t.CACert == "" {
		return tls.Certificate{}, nil, errors.New("TLS needs all of --tls-cert, --tls-key and --tls-cacert")
	}
	cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("load TLS key pair: %w", err)
	}
	pem, err := os.ReadFile(t.CACert)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("read TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return tls.Certificate{}, nil, fmt.Errorf("read TLS CA %s: no certificate found", t.CACert)
	}
	return cert, pool, nil
}
