package remoteimg

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinels. Errors that cross the wire as a Code come back as one of
// these (wrapped in a *RemoteError carrying the peer's message), so callers
// test them with errors.Is.
var (
	// ErrNotExist is fs.ErrNotExist: the image or snapshot does not exist.
	ErrNotExist = fs.ErrNotExist
	// ErrPermission is fs.ErrPermission: the peer is not allowed here.
	ErrPermission = fs.ErrPermission
	// ErrVersion: the peer speaks another protocol version.
	ErrVersion = errors.New("remote image protocol version mismatch")
	// ErrProtocol: a malformed, oversized or unexpected frame.
	ErrProtocol = errors.New("remote image protocol error")
	// ErrFrameTooLarge: a frame longer than the cap (also an ErrProtocol).
	ErrFrameTooLarge = fmt.Errorf("%w: frame too large", ErrProtocol)
	// ErrBadName: a snapshot id or image name that CheckName refuses.
	ErrBadName = errors.New("bad snapshot or image name")
	// ErrCorrupt: an image whose checksum does not match.
	ErrCorrupt = errors.New("image checksum mismatch")
	// ErrTruncated: an image cut short (size mismatch or stream ended early).
	ErrTruncated = errors.New("image truncated")
	// ErrAborted: the image's transfer was abandoned before it completed.
	ErrAborted = errors.New("image transfer aborted")
	// ErrUnavailable: the image cache (or proxy) cannot be reached.
	ErrUnavailable = errors.New("remote image service unavailable")
	// ErrIncomplete: Finish named an image the cache does not hold whole.
	ErrIncomplete = errors.New("snapshot incomplete")
	// ErrShutdown: the daemon is shutting down.
	ErrShutdown = errors.New("remote image daemon shutting down")
	// ErrInternal: anything else that went wrong on the peer.
	ErrInternal = errors.New("remote image daemon internal error")
	// ErrExist: the cache holds a snapshot under that id that a new dump
	// must not replace (finished and not yet restored, or being read by
	// a restore).
	ErrExist = errors.New("snapshot exists")
	// ErrNoSpace: the cache's memory budget (--max-memory) cannot hold
	// the snapshot; its transfer was dropped.
	ErrNoSpace = errors.New("remote image cache full")
)

// Code is an error code on the wire. CodeOK is success.
type Code uint32

// Error codes. Values are part of the protocol: never renumber.
const (
	CodeOK          Code = 0
	CodeNotExist    Code = 1
	CodeVersion     Code = 2
	CodeProtocol    Code = 3
	CodeBadName     Code = 4
	CodeCorrupt     Code = 5
	CodeTruncated   Code = 6
	CodeAborted     Code = 7
	CodeUnavailable Code = 8
	CodeIncomplete  Code = 9
	CodePermission  Code = 10
	CodeShutdown    Code = 11
	CodeInternal    Code = 12
	// 13..19 left to the proxy's additions; the cache's start at 20.
	CodeExist   Code = 20
	CodeNoSpace Code = 21
)

var codeErr = map[Code]error{
	CodeNotExist:    ErrNotExist,
	CodeVersion:     ErrVersion,
	CodeProtocol:    ErrProtocol,
	CodeBadName:     ErrBadName,
	CodeCorrupt:     ErrCorrupt,
	CodeTruncated:   ErrTruncated,
	CodeAborted:     ErrAborted,
	CodeUnavailable: ErrUnavailable,
	CodeIncomplete:  ErrIncomplete,
	CodePermission:  ErrPermission,
	CodeShutdown:    ErrShutdown,
	CodeInternal:    ErrInternal,
	CodeExist:       ErrExist,
	CodeNoSpace:     ErrNoSpace,
}

// Sentinel returns the sentinel error for code (ErrInternal for an
// unknown code, nil for CodeOK).
func (c Code) Sentinel() error {
	if c == CodeOK {
		return nil
	}
	if e, ok := codeErr[c]; ok {
		return e
	}
	return ErrInternal
}

func (c Code) String() string {
	if c == CodeOK {
		return "ok"
	}
	return c.Sentinel().Error()
}

// CodeOf maps an error to the code sent for it on the wire.
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Code
	}
	// Order matters: ErrFrameTooLarge is also ErrProtocol.
	for _, c := range []Code{CodeNotExist, CodeVersion, CodeProtocol, CodeBadName, CodeCorrupt,
		CodeTruncated, CodeAborted, CodeUnavailable, CodeIncomplete, CodePermission, CodeShutdown,
		CodeExist, CodeNoSpace} {
		if errors.Is(err, codeErr[c]) {
			return c
		}
	}
	return CodeInternal
}

// RemoteError is an error reported by the peer: its code and message.
// errors.Is(err, ErrNotExist) etc. hold through Unwrap.
type RemoteError struct {
	Code Code
	Msg  string
}

func (e *RemoteError) Error() string {
	if e.Msg == "" {
		return e.Code.String()
	}
	return e.Msg
}

func (e *RemoteError) Unwrap() error { return e.Code.Sentinel() }

// ResultError turns a Result into an error (nil for CodeOK).
func ResultError(r Result) error {
	if r.Code == CodeOK {
		return nil
	}
	return &RemoteError{Code: r.Code, Msg: r.Msg}
}

// ErrorResult turns an error into the Result that reports it.
func ErrorResult(err error) Result {
	if err == nil {
		return Result{}
	}
	msg := err.Error()
	if len(msg) > MaxMsgLen {
		msg = msg[:MaxMsgLen]
	}
	return Result{Code: CodeOf(err), Msg: msg}
}
