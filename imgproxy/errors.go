package imgproxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"

	"github.com/criugo/criu/remoteimg"
)

// permanent reports whether a dial or handshake error will not go away
// by retrying: the peer's certificate does not verify, the peer refused
// ours (a TLS alert), the peer speaks no TLS or another protocol
// version, or refused our role.
func permanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, remoteimg.ErrVersion) || errors.Is(err, remoteimg.ErrPermission) {
		return true
	}
	var (
		ua  x509.UnknownAuthorityError
		ci  x509.CertificateInvalidError
		he  x509.HostnameError
		cve *tls.CertificateVerificationError
		rhe tls.RecordHeaderError
		ae  tls.AlertError
	)
	if errors.As(err, &ua) || errors.As(err, &ci) || errors.As(err, &he) || errors.As(err, &cve) ||
		errors.As(err, &rhe) || errors.As(err, &ae) {
		return true
	}
	// An alert received from the peer during the handshake.
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}
